"""A loopback OpenAI Files + Batch API: ``/v1/files``, ``/v1/files/{id}/content``, ``/v1/batches``,
``/v1/batches/{id}``, ``/v1/batches/{id}/cancel``.

A test helper, not a mock: the judge talks to it over TCP through the official ``openai`` client (multipart upload,
JSON batch objects, binary downloads).  A batch moves one step per ``GET /v1/batches/{id}`` (``validating`` ->
``in_progress`` -> ``finalizing`` -> ``completed``), never by the clock, so a test gives the same result on any
machine.  Every answer is computed from its request line: the body of a ``chat.completion`` is
:func:`servers.latency_server.completion_body` with the CRC-32 of the line's ``body`` as seed (the same verdict
the latency server gives the same request), so a result can be checked against a direct run.

Fault modes (``fault=``), the ways a real batch goes wrong:

``failed``       the batch fails validation: status ``failed`` with ``errors.data`` (code, message, line), no files
``expired``      the 24 h window passes: status ``expired``; the first ``answered`` lines have results, the rest
                 are in the error file with code ``batch_expired`` (OpenAI's convention)
``cancelled``    status ``cancelled`` (as if cancelled elsewhere), results for the first ``answered`` lines only
``error_lines``  every ``error_every``-th line is answered in the error file (status 500 with an error body)
``missing``      every ``error_every``-th line has no result at all (in neither file)
``malformed``    line ``error_every`` of the output file is not JSON
``never``        the batch stays ``in_progress`` however often it is polled
``upload_401``   the upload is refused with 401 (a wrong key)

With ``api_key`` set, a request without ``Authorization: Bearer KEY`` gets 401, and the message never echoes what
was sent.  ``server.log`` lists ``(method, path)`` of every request; ``server.batches`` and ``server.files`` hold
the state.  Run it on its own: ``python tests/servers/batch_api.py --port 8001``.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler
from typing import Any

from servers.latency_server import completion_body
from servers.threaded import JSONHandler, ThreadedServer

FAULTS = ("failed", "expired", "cancelled", "error_lines", "missing", "malformed", "never", "upload_401")
#: Polls a healthy batch takes: validating -> in_progress -> finalizing -> completed.
STEPS = ("validating", "in_progress", "finalizing", "completed")


class BatchServer(ThreadedServer):
    """The Files + Batch API on ``127.0.0.1:port`` (0: a free port), served by a thread; a context manager."""

    def __init__(
        self,
        *,
        fault: str | None = None,
        answered: int = 0,
        error_every: int = 10,
        api_key: str | None = None,
        port: int = 0,
    ) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        self.fault = fault
        self.answered = answered
        self.error_every = error_every
        self.api_key = api_key
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (purpose, content)
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        super().__init__(_handler(self), port)

    # -- state ---------------------------------------------------------------------------------------------
    def add_file(self, purpose: str, content: bytes, filename: str = "upload.jsonl") -> dict[str, Any]:
        with self.lock:
            file_id = f"file-{len(self.files) + 1:04d}"
            self.files[file_id] = (purpose, content)
        return {
            "id": file_id, "object": "file", "bytes": len(content), "created_at": 0, "filename": filename,
            "purpose": purpose, "status": "processed",
        }  # fmt: skip

    def create_batch(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        input_id = str(request.get("input_file_id"))
        if input_id not in self.files:
            return 400, {"error": {"message": f"No file with id {input_id}", "type": "invalid_request_error"}}
        with self.lock:
            batch_id = f"batch_{len(self.batches) + 1:04d}"
            lines = self.files[input_id][1].decode("utf-8").splitlines()
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": request.get("endpoint"), "errors": None,
                "input_file_id": input_id, "completion_window": request.get("completion_window"),
                "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": 0,
                "metadata": request.get("metadata"),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            }  # fmt: skip
            self.polls[batch_id] = 0
        return 200, self.batches[batch_id]

    def poll(self, batch_id: str) -> dict[str, Any] | None:
        """The batch after one more step (the fault decides where it ends)."""
        with self.lock:
            batch = self.batches.get(batch_id)
            if batch is None or batch["status"] in ("completed", "failed", "expired", "cancelled"):
                return batch
            self.polls[batch_id] += 1
            step = self.polls[batch_id]
        if self.fault == "never":
            batch["status"] = "in_progress"
        elif self.fault == "failed":
            batch["status"] = "failed"
            batch["errors"] = {
                "object": "list",
                "data": [{"code": "invalid_request", "message": "Model 'nope' is not available", "line": 1,
                          "param": "body.model"}],
            }  # fmt: skip
        elif step >= len(STEPS) - 1:
            self._finish(batch)
        else:
            batch["status"] = STEPS[step]
        return batch

    def cancel(self, batch_id: str) -> dict[str, Any] | None:
        batch = self.batches.get(batch_id)
        if batch is not None and batch["status"] not in ("completed", "failed", "expired", "cancelled"):
            self._finish(batch, status="cancelled")
        return batch

    def _finish(self, batch: dict[str, Any], status: str | None = None) -> None:
        lines = self.files[batch["input_file_id"]][1].decode("utf-8").splitlines()
        ending = status or {"expired": "expired", "cancelled": "cancelled"}.get(self.fault or "", "completed")
        out: list[str] = []
        errors: list[str] = []
        for number, line in enumerate(lines, start=1):
            request = json.loads(line)
            custom_id = request["custom_id"]
            if ending != "completed" and number > self.answered:
                if ending == "expired":
                    errors.append(_error_line(number, custom_id, "batch_expired", "This request could not be "
                                              "executed before the completion window expired."))  # fmt: skip
                continue
            if self.fault == "missing" and number % self.error_every == 0:
                continue
            if self.fault == "error_lines" and number % self.error_every == 0:
                errors.append(_error_line(number, custom_id, "server_error", "The server had an error."))
                continue
            if self.fault == "malformed" and number == self.error_every:
                out.append('{"custom_id": "' + custom_id + '", "response": {"status_co')
                continue
            body = completion_body(request["body"], _seed(request["body"]), None)
            out.append(json.dumps({
                "id": f"batch_req_{number}", "custom_id": custom_id,
                "response": {"status_code": 200, "request_id": f"req_{number}", "body": body}, "error": None,
            }))  # fmt: skip
        batch["status"] = ending
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(errors)}
        if out:
            batch["output_file_id"] = self.add_file("batch_output", "".join(s + "\n" for s in out).encode())[
                "id"
            ]
        if errors:
            content = "".join(s + "\n" for s in errors).encode()
            batch["error_file_id"] = self.add_file("batch_output", content)["id"]


def _seed(body: dict[str, Any]) -> int:
    """The verdict seed of a request body: CRC-32 of its canonical JSON."""
    return zlib.crc32(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def _error_line(number: int, custom_id: str, code: str, message: str) -> str:
    return json.dumps({
        "id": f"batch_req_{number}", "custom_id": custom_id,
        "response": {"status_code": 500, "request_id": f"req_{number}",
                     "body": {"error": {"code": code, "message": message}}},
        "error": {"code": code, "message": message},
    })  # fmt: skip


def _multipart(content_type: str, payload: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (filename, bytes)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + payload
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


def _handler(server: BatchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JSONHandler):
        def _authorised(self) -> bool:
            server.log.append((self.command, self.path))
            if server.api_key is None or self.headers.get("Authorization") == f"Bearer {server.api_key}":
                return True
            self.json(401, {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}})
            return False

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if not self._authorised():
                return
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[:2] == ["v1", "batches"] and len(parts) == 3:
                batch = server.poll(parts[2])
                return self.json(200, batch) if batch else self.json(404, {"error": {"message": "No batch"}})
            if parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "content":
                found = server.files.get(parts[2])
                if found is None:
                    return self.json(404, {"error": {"message": f"No such File object: {parts[2]}"}})
                return self.send(200, found[1], "application/octet-stream")
            self.json(404, {"error": {"message": f"unknown route {self.path}"}})

        def do_POST(self) -> None:  # noqa: N802
            payload = self.body()
            if not self._authorised():
                return
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts == ["v1", "files"]:
                if server.fault == "upload_401":
                    return self.json(401, {"error": {"message": "Incorrect API key provided."}})
                fields = _multipart(self.headers.get("Content-Type", ""), payload)
                if "file" not in fields or fields.get("purpose", (None, b""))[1] != b"batch":
                    return self.json(400, {"error": {"message": "file and purpose=batch are required"}})
                filename, content = fields["file"]
                return self.json(200, server.add_file("batch", content, filename or "upload.jsonl"))
            if parts == ["v1", "batches"]:
                status, obj = server.create_batch(json.loads(payload or b"{}"))
                return self.json(status, obj)
            if parts[:2] == ["v1", "batches"] and len(parts) == 4 and parts[3] == "cancel":
                batch = server.cancel(parts[2])
                return self.json(200, batch) if batch else self.json(404, {"error": {"message": "No batch"}})
            self.json(404, {"error": {"message": f"unknown route {self.path}"}})

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A loopback OpenAI Files + Batch API.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fault", choices=FAULTS, default=None)
    args = parser.parse_args(argv)
    server = BatchServer(fault=args.fault, port=args.port).start()
    print(f"serving on {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
