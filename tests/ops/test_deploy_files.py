"""What can be checked of the Docker deployment without a Docker engine: the compose file's
services, health checks and start order, the variables it and `.env.example` set against the
ones the code reads, the Dockerfile's shape and the proxy's WebSocket configuration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
#: Read by docker compose (interpolation) or by the images it runs, not by Klaster.
COMPOSE_ONLY = {
    "POSTGRES_PASSWORD",
    "POSTGRES_USER",
    "POSTGRES_DB",
    "KLASTER_HTTP_PORT",
    "KLASTER_HTTPS_PORT",
    "KLASTER_SITE_ADDRESS",
    "KLASTER_IMAGE",
    "FORWARDED_ALLOW_IPS",  # read by uvicorn (trust X-Forwarded-* from the proxy)
}
#: Read by `klaster watch`, a terminal client; listed (commented) but never set for servers.
CLIENT_ONLY = {"KLASTER_TOKEN", "KLASTER_PASSWORD"}
#: Set by `klaster serve --scheduler` for the process it starts.
INTERNAL = {"KLASTER_IN_PROCESS_SCHEDULER"}


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def code_variables() -> set[str]:
    """Every environment variable the app's code names (string literals in the packages)."""
    names: set[str] = set()
    pattern = re.compile(r'"((?:KLASTER|DATABASE|REDIS)_[A-Z_]+)"')
    for package in ("matching", "market", "web"):
        for path in (ROOT / package).rglob("*.py"):
            names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return names


def env_example() -> tuple[set[str], set[str]]:
    """(variables set, variables only mentioned in a comment `# NAME=`)."""
    set_, mentioned = set(), set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        if m := re.match(r"^([A-Z][A-Z0-9_]*)=", line):
            set_.add(m.group(1))
        elif m := re.match(r"^#\s*([A-Z][A-Z0-9_]*)=", line):
            mentioned.add(m.group(1))
    return set_, mentioned


def test_compose_has_the_production_services() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "proxy"}
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "pgdata" in compose()["volumes"]
    assert services["web"]["deploy"]["replicas"] >= 2
    assert services["migrate"]["command"] == ["klaster", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["command"][:2] == ["klaster", "serve"]
    assert services["worker"]["command"][:2] == ["klaster", "worker"]
    assert "caddy" in services["proxy"]["image"]
    assert any("Caddyfile" in v for v in services["proxy"]["volumes"])


def test_every_service_has_a_health_check() -> None:
    for name, service in compose()["services"].items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name


def test_the_app_waits_for_the_database_and_the_migration() -> None:
    services = compose()["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    assert "/health" in web_check  # liveness: a Redis outage must not take the site down


def test_app_services_point_at_the_compose_database_and_redis() -> None:
    services = compose()["services"]
    for name in ("migrate", "web", "worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://klaster:")
        assert "@postgres:5432/klaster" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["env_file"] == ".env"


def test_variables_set_are_read_and_every_variable_read_is_listed() -> None:
    code = code_variables()
    assert {"DATABASE_URL", "REDIS_URL", "KLASTER_SECRET_KEY"} <= code
    set_, mentioned = env_example()
    compose_env: set[str] = set()
    for service in compose()["services"].values():
        compose_env.update(service.get("environment") or {})
    unknown = (set_ | compose_env) - code - COMPOSE_ONLY
    assert not unknown, f"set but never read by the app: {sorted(unknown)}"
    assert not (set_ & CLIENT_ONLY), "client-only variables must not be set for servers"
    missing = code - set_ - mentioned
    assert not missing, f"read by the app but not in .env.example: {sorted(missing)}"
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    assert interpolated <= set_ | COMPOSE_ONLY


def test_configuration_doc_lists_every_variable_with_a_default() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for name in sorted(code_variables() | {"FORWARDED_ALLOW_IPS"}):
        rows = [line for line in doc.splitlines() if line.startswith(f"| `{name}`")]
        assert rows, f"{name} missing from docs/configuration.md"
        assert rows[0].count("|") >= 4, f"{name}: needs default and description columns"


def test_dockerfile_is_slim_non_root_and_installs_the_project() -> None:
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert froms and all(f.startswith("python:3.11-slim") for f in froms)
    assert re.search(r"^USER klaster", text, flags=re.M)
    assert "pip install -c requirements.lock ." in text
    assert re.search(r"^COPY requirements.lock requirements.lock$", text, flags=re.M)
    for part in ("matching", "market", "web", "migrations"):
        assert re.search(rf"^COPY {part} {part}$", text, flags=re.M), part
    assert "HEALTHCHECK" in text and 'CMD ["klaster", "serve"' in text
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".venv" in ignored and ".git" in ignored and "web" not in ignored
    lock = (ROOT / "requirements.lock").read_text()
    for dep in ("litestar==", "ortools==", "prometheus_client==", "asyncpg==", "uvicorn=="):
        assert dep in lock, dep
    assert " @ file:" not in lock


def locked_versions() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.split(";")[0].strip().partition("==")
            assert version, f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = version
    return pins


def test_the_lock_pins_every_dependency_inside_its_range() -> None:
    """What pyproject.toml asks for (with the `dev` extra) is in requirements.lock, at a version
    its range allows: a changed range without `python3 run.py lock` fails here."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = locked_versions()
    for line in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock (python3 run.py lock)"
        assert req.specifier.contains(pins[name], prereleases=True), (line, pins[name])


def test_setup_ci_and_image_install_from_the_lock() -> None:
    run = (ROOT / "run.py").read_text()
    assert re.search(r'"-c",\s*LOCK', run) and 'LOCK = ROOT / "requirements.lock"' in run
    assert "python3 run.py test" in (ROOT / ".ci" / "run").read_text()
    assert not (ROOT / "deploy" / "constraints.txt").exists()
    readme = (ROOT / "README.md").read_text()
    assert "python3 run.py lock" in readme
    assert "python3 run.py lock" in (ROOT / "docs" / "deployment.md").read_text()


def test_static_files_and_vendored_htmx_are_package_data() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = project["tool"]["setuptools"]["package-data"]
    assert "static/**/*" in data["web"] and "templates/**/*" in data["web"]
    assert "versions/*.py" in data["migrations"]
    static = ROOT / "web" / "static"
    assert list(static.glob("htmx-2.*.min.js")) and list(static.glob("ws-2.*.min.js"))


def test_proxies_pass_websocket_upgrades_and_hide_metrics() -> None:
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy" in caddy and "name web" in caddy and "port 8000" in caddy
    assert "flush_interval -1" in caddy and "health_uri /health" in caddy
    assert re.search(r"@internal path /metrics", caddy) and "respond @internal 404" in caddy
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
    assert "proxy_set_header Connection $connection_upgrade;" in nginx
    assert "proxy_http_version 1.1;" in nginx and "location = /metrics { return 404; }" in nginx


def test_proxies_send_the_apps_security_headers() -> None:
    """Caddy and nginx send the same Content-Security-Policy (no framing: `frame-ancestors
    'none'`), nosniff and Referrer-Policy as the app, on every response."""
    from web.app import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    wanted = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    assert {"content-security-policy", "x-content-type-options", "referrer-policy"} <= set(wanted)
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    for name, value in wanted.items():
        pretty = "-".join(part.capitalize() for part in name.split("-"))
        assert re.search(rf'^\s*{re.escape(pretty)} "{re.escape(value)}"$', caddy, re.M | re.I), (
            name
        )
        assert re.search(
            rf'^\s*add_header {re.escape(pretty)} "{re.escape(value)}" always;$', nginx, re.M | re.I
        ), name
        assert re.search(rf"^\s*proxy_hide_header {re.escape(pretty)};$", nginx, re.M | re.I), name
    assert not re.search(r"^\s+add_header", nginx.split("location ~", 1)[1], re.M), (
        "an add_header inside a location drops the server's security headers there"
    )
