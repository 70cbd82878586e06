"""The 10.00 spike: the livestream page and the home page, against a bare Starlette app.

On a throw-away installation (the demo network, one upcoming session dressed as fully as a page
can show: bench/session_page.py's `populate`) it starts `vcs web --workers 1` (the deployment
command, its access log, metrics and security headers on), takes the bytes it serves for
`/sessions/{id}` and `/`, and serves the same bytes from

- a bare Starlette app (bench/bare.py) under uvicorn with one worker, exactly as vcs is served:
  the reference for goal 1 (vcs >= 0.5x bare);
- nginx serving them as static files, and nginx with the micro-cache of the documented site
  (deploy/nginx-vcs.conf, plain HTTP, same cache directives) in front of vcs: the goal behind
  nginx is the cached page at >= 0.8x the static file.

Each is loaded in turn with `wrk -t2 -c64 -d10s` (a load that saturates one server process on
two CPUs; bench/load.py), `--rounds N` alternating, best of each compared. It prints one table
and warns when other processes took CPU during a run. Run: `.venv/bin/python -m bench.page`
(`make bench-page`).
"""

from __future__ import annotations

import re
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench import load
from bench.load import HOST, Row, say
from bench.session_page import populate

PAGE_GOAL = 0.5
PROXY_GOAL = 0.8
DEPLOY_SITE = load.ROOT / "deploy" / "nginx-vcs.conf"


def proxy_site(folder: Path, port: int, upstream_port: int) -> str:
    """The documented site's micro-cache for pages, on plain HTTP on `port` (no TLS here)."""
    site = DEPLOY_SITE.read_text(encoding="utf-8")
    zones = "\n".join(
        re.findall(
            r"^proxy_cache_path [^;]*;$|^map \$http_accept_encoding[^}]*\}", site, re.M | re.S
        )
    ).replace("/var/cache/nginx/", f"{folder}/cache-")
    pages = re.search(r"^    location ~ \^/\(sessions.*?^    \}$", site, re.M | re.S)
    if pages is None or "proxy_cache vcs_pages;" not in pages.group():
        raise load.BenchError("deploy/nginx-vcs.conf has no micro-cached page location")
    return (
        f"upstream vcs_web {{ server {HOST}:{upstream_port}; keepalive 32; }}\n"
        f"{zones}\n"
        "server {\n"
        f"    listen {HOST}:{port};\n"
        "    proxy_http_version 1.1;\n"
        '    proxy_set_header Connection "";\n'
        "    proxy_set_header Host $host;\n"
        "    proxy_set_header X-Request-ID $request_id;\n"
        f"{pages.group()}\n"
        "}\n"
    )


def nginx_conf(prefix: Path, body: str) -> str:
    user = "user root;\n" if load.os.geteuid() == 0 else ""
    temp = "".join(
        f"    {module}_temp_path {prefix / 'temp' / module};\n"
        for module in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n    access_log off;\n    gzip off;\n    sendfile on;\n    tcp_nopush on;\n"
        '    types { }\n    default_type "text/html; charset=utf-8";\n'
        f"{temp}{body}}}\n"
    )


@dataclass(frozen=True)
class Servers:
    vcs: int
    bare: int
    static: int
    proxy: int
    pids: dict[str, int]


def measure(folder: Path, rounds: int) -> int:
    rows = run(folder, rounds)
    say()
    load.print_table(rows)
    load.record_rows(rows)
    return 0


def run(folder: Path, rounds: int) -> list[Row]:
    """Everything above; the table's rows."""
    nginx, wrk = load.tool("nginx"), load.tool("wrk")
    environ, _settings, now, chosen = load.install(folder, populate)
    say(f"vcs page benchmark, {now:%Y-%m-%d %H:%M} UTC")
    load.say_machine(nginx, wrk)
    paths = {"session": f"/sessions/{chosen.session_id}", "home": "/"}
    ports = {name: load.free_port() for name in ("vcs", "bare", "static", "proxy")}
    rows: list[Row] = []
    with ExitStack() as stack:
        serve = [sys.executable, "-m", "vcs", "web", "--host", HOST, "--port", str(ports["vcs"])]
        vcs = stack.enter_context(
            load.started([*serve, "--workers", "1"], folder / "vcs.log", environ)
        )
        load.wait_until_serving(vcs, ports["vcs"], "/healthz", folder / "vcs.log")
        bodies: dict[str, bytes] = {}
        saved = folder / "bare"
        saved.mkdir()
        www = folder / "www"
        for number, (name, path) in enumerate(paths.items()):
            first, _second = load.check_cached(
                ports["vcs"], load.Target(path, "text/html; charset=utf-8", f"{name} page")
            )
            bodies[name] = first.body
            (saved / f"{number}.body").write_bytes(first.body)
            (saved / f"{number}.meta").write_text(f"{path}\n{first.headers['content-type']}\n")
            target = www / (path.lstrip("/") or "index.html")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(first.body)
        say(
            f"pages: {paths['session']} ({len(bodies['session']):,} bytes), "
            f"/ ({len(bodies['home']):,} bytes), both answered from vcs's page cache"
        )
        bare_cmd = [sys.executable, "-m", "uvicorn", "bench.bare:app", "--host", HOST]
        bare_cmd += ["--port", str(ports["bare"]), "--workers", "1", "--no-access-log"]
        bare = stack.enter_context(
            load.started(bare_cmd, folder / "bare.log", {**environ, "BENCH_BARE_DIR": str(saved)})
        )
        load.wait_until_serving(bare, ports["bare"], "/healthz", folder / "bare.log")
        static_prefix, proxy_prefix = folder / "nginx-static", folder / "nginx-proxy"
        for prefix in (static_prefix, proxy_prefix):
            (prefix / "temp").mkdir(parents=True)
        static_body = f"    server {{ listen {HOST}:{ports['static']}; root {www}; }}\n"
        (static_prefix / "nginx.conf").write_text(nginx_conf(static_prefix, static_body))
        proxy_body = proxy_site(folder, ports["proxy"], ports["vcs"])
        (proxy_prefix / "nginx.conf").write_text(nginx_conf(proxy_prefix, proxy_body))
        pids = {"vcs": vcs.pid, "bare": bare.pid}
        for name, prefix in (("static", static_prefix), ("proxy", proxy_prefix)):
            command = [nginx, "-p", str(prefix), "-c", "nginx.conf", "-e", str(prefix / "e.log")]
            process = stack.enter_context(
                load.started([*command, "-g", "daemon off;"], prefix / "stderr.log")
            )
            load.wait_until_serving(process, ports[name], "/", prefix / "error.log")
            pids[name] = process.pid
        for name, path in paths.items():
            for server in ("bare", "static", "proxy"):
                if load.fetch(ports[server], path).body != bodies[name]:
                    raise load.BenchError(f"{server} serves other bytes for {path} than vcs")
        say("bare Starlette, nginx static and nginx micro-cache serve the same bytes as vcs")
        say(f"wrk {' '.join(load.WRK_ARGS)}, {rounds} round(s), alternating")

        def versus(what: str, path: str, mine: str, ref: str, goal: float) -> Row:
            pairs = [
                (
                    load.run_wrk(wrk, ports[mine], pids[mine], path),
                    load.run_wrk(wrk, ports[ref], pids[ref], path),
                )
                for _ in range(rounds)
            ]
            row = load.row_of(what, [p[0] for p in pairs], [p[1] for p in pairs], goal)
            say(f"  {row.line()}")
            return row

        for path in paths.values():
            rows.append(versus(f"{path} 1 worker / bare Starlette", path, "vcs", "bare", PAGE_GOAL))
        for path in paths.values():
            rows.append(
                versus(f"{path} nginx micro-cache / static", path, "proxy", "static", PROXY_GOAL)
            )
    return rows


def main() -> None:
    args = load.parse(load.command_line("python -m bench.page", __doc__ or ""))
    load.run(measure, args.keep, args.rounds)


if __name__ == "__main__":
    main()
