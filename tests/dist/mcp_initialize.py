"""Starts an MCP server command over stdio, initializes it, lists its tools and exits.

    python3 mcp_initialize.py COMMAND [ARGS...]

Prints `<server name> <version>: <N> tools` and exits 0 when the server answered `initialize`
and `tools/list` correctly; exits 1 with the reason otherwise. Only the standard library is
used, so any installed `agentpool` (wheel, npm, tarball) can be checked the same way.
"""

import json
import subprocess
import sys
import threading

# A server that never answers fails the check instead of hanging it.
TIMEOUT_SECONDS = 60


def main(argv):
    if not argv:
        print("usage: mcp_initialize.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(TIMEOUT_SECONDS, proc.kill)
    watchdog.daemon = True
    watchdog.start()

    def send(message):
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()

    def receive(want_id):
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the server closed stdout (exit status {proc.wait()})")
            message = json.loads(line)
            if message.get("id") == want_id:
                if "error" in message:
                    raise RuntimeError(f"request {want_id} failed: {message['error']}")
                return message["result"]

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "agentpool-dist-check", "version": "1"},
        }})
        init = receive(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        tools = receive(2)["tools"]
        info = init["serverInfo"]
        if not tools:
            raise RuntimeError("tools/list returned no tools")
        print(f"{info['name']} {info['version']}: {len(tools)} tools")
        return 0
    except (RuntimeError, KeyError, ValueError) as e:
        print(f"mcp_initialize: {e}", file=sys.stderr)
        return 1
    finally:
        watchdog.cancel()
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
