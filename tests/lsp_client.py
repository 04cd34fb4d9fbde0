"""A small language server client for the tests: JSON-RPC over a child process's stdin/stdout."""
from __future__ import annotations

import json
import queue
import subprocess
import threading
import time


class LspClient:
    def __init__(self, cmd: list[str], env=None, cwd=None):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, cwd=cwd)
        self.inbox: queue.Queue = queue.Queue()
        self.notifications: list[dict] = []
        self.server_requests: list[dict] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.inbox.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                k, _, v = line.decode("ascii").partition(":")
                if k.lower() == "content-length":
                    length = int(v)
            body = out.read(length)
            self.inbox.put(json.loads(body))

    def send(self, msg: dict) -> None:
        msg = {"jsonrpc": "2.0", **msg}
        body = json.dumps(msg).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _pump(self, timeout: float) -> dict:
        msg = self.inbox.get(timeout=timeout)
        if msg is None:
            raise AssertionError("the server closed its output: " + self.proc.stderr.read().decode(errors="replace"))
        if "method" in msg and "id" in msg:  # a request from the server: answer it
            self.server_requests.append(msg)
            self.send({"id": msg["id"], "result": None})
        elif "method" in msg:
            self.notifications.append(msg)
        return msg

    def request(self, method: str, params, timeout: float = 30):
        self.next_id += 1
        rid = self.next_id
        self.send({"id": rid, "method": method, "params": params})
        end = time.time() + timeout
        while True:
            msg = self._pump(max(end - time.time(), 0.01))
            if msg.get("id") == rid and "method" not in msg:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result")

    def notify(self, method: str, params) -> None:
        self.send({"method": method, "params": params})

    def wait_for(self, method: str, pred=lambda p: True, timeout: float = 30) -> dict:
        """The params of the first notification `method` (seen or coming) that satisfies `pred`; it is
        consumed, so the next call waits for a newer one."""
        end = time.time() + timeout
        while True:
            for i, m in enumerate(self.notifications):
                if m["method"] == method and pred(m["params"]):
                    # consumed, with the older ones of the same method
                    self.notifications = [x for j, x in enumerate(self.notifications)
                                          if not (j <= i and x["method"] == method)]
                    return m["params"]
            self._pump(max(end - time.time(), 0.01))

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
