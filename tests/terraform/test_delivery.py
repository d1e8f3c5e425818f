"""The delivery files name things that exist: the Dockerfile, docker-compose.yml, deploy.sh, the
CI workflow, the runbooks and docs. No Docker engine, no AWS: files, modules and declarations.

Parts of the tree are written on other branches at the same time (runtime_service, the
management commands, the Celery app, the Makefile); a check on one of them is skipped only while
that part is absent from the tree, never to hide a failure once it is there.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from . import terraform_config as tf
from .terraform_config import ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy.sh"
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
CI_WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
CI_SCRIPT = ROOT / ".ci" / "run"
CHECK_TERRAFORM = ROOT / "scripts" / "check-terraform"
COMMANDS_DIR = ROOT / "link_tracking_publisher" / "management" / "commands"
RUNTIME_COMMAND = (
    "gunicorn -k runtime_service.server.RuntimeWorker -w ${WEB_CONCURRENCY:-2} -b 0.0.0.0:8000 "
    "runtime_service.asgi:app"
)


def _require_runtime_service() -> None:
    """For checks of the runtime's files and packaging in this tree."""
    if not (ROOT / "runtime_service").is_dir():
        pytest.skip("runtime_service is not in this tree yet")


def _require_runtime_module() -> None:
    """For checks that import the runtime (from this tree, or PYTHONPATH while developing)."""
    if importlib.util.find_spec("runtime_service") is None:
        pytest.skip("runtime_service is not importable yet")


def _require_commands_package() -> None:
    if not COMMANDS_DIR.is_dir():
        pytest.skip("link_tracking_publisher/management/commands is not in this tree yet")


# --- Dockerfile --------------------------------------------------------------------------------


def _dockerfile_stages() -> list[tuple[str, list[tuple[str, str]]]]:
    """[(stage name, [(INSTRUCTION, arguments)])], continuations joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    stages: list[tuple[str, list[tuple[str, str]]]] = []
    for statement in logical:
        instruction, _, arguments = statement.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            match = re.search(r"\bAS\s+(\S+)$", arguments, re.IGNORECASE)
            stages.append((match.group(1) if match else str(len(stages)), []))
        elif stages:
            stages[-1][1].append((instruction, arguments.strip()))
    return stages


@pytest.fixture(scope="module")
def stages():
    return dict(_dockerfile_stages())


@pytest.fixture(scope="module")
def runtime_stage():
    name, instructions = _dockerfile_stages()[-1]
    assert name == "runtime", "the last stage (the default build target) must be the runtime"
    return instructions


def _all(instructions, instruction):
    return [arguments for kind, arguments in instructions if kind == instruction]


def test_dockerfile_is_multi_stage(stages):
    assert len(stages) >= 2


def _commands(instructions) -> list[str]:
    """Every command of a stage's RUN instructions, split at ``&&``."""
    return [
        " ".join(command.split())
        for run in _all(instructions, "RUN")
        for command in run.split("&&")
        if command.strip()
    ]


def _runtime_sources(stages, runtime_stage) -> set[str]:
    sources = {
        re.search(r"--from=(\S+)", copy).group(1)
        for copy in _all(runtime_stage, "COPY")
        if "--from=" in copy
    }
    assert sources, "the runtime stage must copy its virtualenv from a build stage"
    return sources


def test_runtime_image_installs_only_the_runtime_extra(stages, runtime_stage):
    sources = _runtime_sources(stages, runtime_stage)
    for source in sources:
        installs = [c for c in _commands(stages[source]) if c.startswith("pip install")]
        # the locked runtime subset (hash-checked), then the project's wheel without resolving
        assert installs == [
            "pip install --require-hashes -r requirements/runtime.txt",
            "pip install --no-deps /tmp/wheels/link_tracking-*.whl",
        ], installs
    copied = " ".join(_all(runtime_stage, "COPY")) + " ".join(
        " ".join(_all(stages[source], "COPY")) for source in sources
    )
    for absent in ("link_tracking_publisher", "devsite", "manage.py", "tests"):
        assert absent not in copied


def test_runtime_image_ships_the_compiled_build_without_a_compiler(stages, runtime_stage):
    (source,) = _runtime_sources(stages, runtime_stage)
    commands = _commands(stages[source])
    # Compiled by the lock's mypy, hash-pinned, in a build-only virtualenv with the runtime's
    # packages (mypy type-checks what it compiles), the build opted in by its variable.
    assert "/opt/build/bin/pip install --require-hashes -r requirements/mypyc.txt" in commands
    assert "/opt/build/bin/pip install --require-hashes -r requirements/runtime.txt" in commands
    assert (
        "LINK_TRACKING_MYPYC=1 /opt/build/bin/pip wheel --no-deps --no-build-isolation "
        "--wheel-dir /tmp/wheels ." in commands
    )
    backend = (ROOT / "build_backend" / "link_tracking_build.py").read_text()
    assert 'OPT_IN = "LINK_TRACKING_MYPYC"' in backend
    for path in ("setup.py", "MANIFEST.in", "build_backend", "requirements/mypyc.txt"):
        assert any(path in copy.split() for copy in _all(stages[source], "COPY")), path
    # The build fails unless the installed module is an extension (-P: not the one in /src).
    assert any(c.startswith("python -P -c") and "endswith('.so')" in c for c in commands)
    assert any(c.startswith("apt-get install") and " gcc" in c for c in commands)
    # The runtime stage gets /opt/venv alone: neither the compiler nor the build venv.
    assert [c.split()[1:] for c in _all(runtime_stage, "COPY")] == [["/opt/venv", "/opt/venv"]]
    for stage in ("base", "runtime"):
        assert not any("gcc" in c or "/opt/build" in c for c in _commands(stages[stage])), stage


def test_the_compiled_build_type_checks_with_the_projects_mypy_settings_but_its_plugins():
    # The image's build stage has no Django: mypy's Django and DRF plugins (pyproject.toml, for
    # make lint) would stop the compiled build at "Error importing plugin".
    import configparser
    import sys

    sys.path.insert(0, str(ROOT / "build_backend"))
    try:
        from link_tracking_build import compiled_mypy_config
    finally:
        sys.path.pop(0)
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert declared["plugins"]  # what make lint checks with
    parsed = configparser.ConfigParser()
    parsed.read_string(compiled_mypy_config())
    assert "plugins" not in parsed["mypy"] and parsed["mypy"]["strict"] == "True"
    for override in declared["overrides"]:
        section = f"mypy-{','.join(override['module'])}"
        for key, value in override.items():
            if key != "module":
                expected = ",".join(value) if isinstance(value, list) else str(value)
                assert parsed[section][key] == expected, (section, key)
    setup = (ROOT / "setup.py").read_text()
    assert '"--config-file", config.name, *compiled_sources()' in setup


def test_runtime_image_runs_as_the_tasks_non_root_user(runtime_stage):
    users = _all(runtime_stage, "USER")
    assert users, "the runtime stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    container = tf.estate().locals["runtime_container"]
    assert users[-1] == container["user"]


def test_runtime_command_and_port(runtime_stage):
    (command,) = _all(runtime_stage, "CMD")
    assert RUNTIME_COMMAND in command
    port = tf.estate().local_literal("container_port")
    assert _all(runtime_stage, "EXPOSE") == [str(port)]
    assert f"0.0.0.0:{port}" in command


def test_healthcheck_probes_health(runtime_stage):
    (healthcheck,) = _all(runtime_stage, "HEALTHCHECK")
    port = tf.estate().local_literal("container_port")
    assert f"127.0.0.1:{port}/health" in healthcheck


def test_image_journal_directory_is_the_tasks(runtime_stage):
    environment = " ".join(_all(runtime_stage, "ENV"))
    config = tf.estate()
    task_journal = config.substitute_locals(
        config.local_literal("runtime_environment_base")["EVENT_JOURNAL_DIR"]
    )
    assert f"EVENT_JOURNAL_DIR={task_journal}" in environment
    # Created in the image with the app user's ownership, which the ECS volume inherits.
    assert any(task_journal in run and "-o app" in run for run in _all(runtime_stage, "RUN"))


def test_every_task_volume_is_declared_in_the_image(runtime_stage):
    # Fargate copies an image directory's content and ownership into a bind-mount volume only
    # when the image declares it as a VOLUME; otherwise the non-root user cannot write there.
    config = tf.estate()
    mounts = {
        config.substitute_locals(mount["containerPath"])
        for mount in config.locals["runtime_container"]["mountPoints"]
    }
    declared = set()
    for volume in _all(runtime_stage, "VOLUME"):
        declared |= set(json.loads(volume)) if volume.startswith("[") else set(volume.split())
    assert mounts <= declared, f"not declared as VOLUME: {mounts - declared}"


def test_files_the_dockerfile_copies_exist(stages):
    for _, instructions in stages.items():
        for copy in _all(instructions, "COPY"):
            if "--from=" in copy:
                continue
            *sources, _destination = copy.split()
            for source in sources:
                if source == "runtime_service" and not (ROOT / source).exists():
                    _require_runtime_service()
                if "*" in source or source == ".":
                    continue
                assert (ROOT / source).exists(), f"COPY {source}: no such path"


def test_runtime_extra_provides_the_server(stages):
    _require_runtime_service()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime_extra = project["project"]["optional-dependencies"]["runtime"]
    names = {
        re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()
        for requirement in runtime_extra
    }
    assert {"gunicorn", "uvicorn-worker", "uvicorn"} <= {n.replace("_", "-") for n in names}


def test_dockerignore_keeps_state_and_secrets_out():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for pattern in (".git", ".env", "terraform/**/*.tfstate*", "terraform/.terraform"):
        assert pattern in ignored


# --- docker-compose.yml -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def _command(service) -> str:
    command = service["command"]
    return " ".join(command) if isinstance(command, list) else command


def test_compose_runs_the_local_stack(services):
    assert set(services) == {"moto", "web", "worker", "beat", "runtime"}
    assert _command(services["moto"]) == "python -m moto.server -H 0.0.0.0 -p 5000"
    assert (
        "python manage.py migrate && python manage.py setup_dynamodb && "
        "python manage.py runserver 0.0.0.0:8000"
    ) in _command(services["web"])
    assert _command(services["worker"]) == "celery -A devsite worker -l info"
    assert _command(services["beat"]).startswith("celery -A devsite beat -l info")
    assert _command(services["runtime"]) == (
        "uvicorn runtime_service.asgi:app --http runtime_service.server:RuntimeHttpProtocol --host 0.0.0.0 --port 8080 --no-access-log"
    )


def test_compose_points_every_aws_client_at_moto(services):
    for name, service in services.items():
        environment = service["environment"]
        assert environment["AWS_ACCESS_KEY_ID"] == "testing", name
        assert environment["AWS_SECRET_ACCESS_KEY"] == "testing", name
        if name == "moto":
            continue
        assert environment["AWS_ENDPOINT_URL"] == "http://moto:5000", name
        assert service["depends_on"]["moto"]["condition"] == "service_healthy", name
    assert "healthcheck" in services["moto"]


def test_compose_publisher_and_runtime_share_the_table(services):
    assert (
        services["web"]["environment"]["LINK_RUNTIME_TABLE_NAME"]
        == services["runtime"]["environment"]["DYNAMODB_TABLE_NAME"]
    )


def test_compose_runtime_environment_is_a_runtime_environment(services):
    _require_runtime_module()
    from runtime_service.config import ENVIRONMENTS

    assert services["runtime"]["environment"]["ENVIRONMENT"] in ENVIRONMENTS


# --- the commands those files name ------------------------------------------------------------


def test_moto_server_module_exists():
    assert importlib.util.find_spec("moto.server") is not None


def test_manage_py_exists():
    assert (ROOT / "manage.py").is_file()


def test_runtime_asgi_module_exists():
    _require_runtime_service()
    assert (ROOT / "runtime_service" / "asgi.py").is_file()


@pytest.mark.parametrize("command", ["setup_dynamodb", "republish_campaign", "reconcile_runtime"])
def test_management_commands_named_in_compose_and_runbooks_exist(command):
    _require_commands_package()
    assert (COMMANDS_DIR / f"{command}.py").is_file()


def test_celery_app_exists():
    if importlib.util.find_spec("devsite.celery") is None:
        pytest.skip("devsite.celery is not in this tree yet")
    from celery import Celery

    module = importlib.import_module("devsite.celery")
    assert any(isinstance(getattr(module, n, None), Celery) for n in ("app", "celery"))


def test_outbox_task_named_in_the_runbook_exists():
    tasks = [ROOT / "link_tracking_publisher" / "tasks.py"]
    tasks += sorted((ROOT / "link_tracking_publisher" / "tasks").glob("*.py"))
    sources = [path.read_text() for path in tasks if path.is_file()]
    if not sources:
        pytest.skip("link_tracking_publisher.tasks is not in this tree yet")
    assert any(re.search(r"def retry_pending_outbox\b", source) for source in sources)
    runbook = (ROOT / "docs" / "runbooks" / "outbox-backlog.md").read_text()
    assert "from link_tracking_publisher.tasks import retry_pending_outbox" in runbook


def _make_targets_named_in_docs() -> set[str]:
    documents = [*ROOT.glob("*.md"), *(ROOT / "docs").rglob("*.md"), COMPOSE, DEPLOY]
    return {
        target
        for path in documents
        if path.is_file()
        for target in re.findall(r"`make ([a-z][a-z0-9_-]*)", path.read_text())
    }


def test_make_targets_named_in_docs_exist():
    named = _make_targets_named_in_docs()
    assert named, "the docs name no make target: this check would be vacuous"
    makefile = ROOT / "Makefile"
    if not makefile.is_file():
        pytest.skip("no Makefile in this tree yet")
    defined = set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", makefile.read_text(), re.MULTILINE))
    assert named <= defined, f"docs name make targets the Makefile lacks: {named - defined}"


# --- deploy.sh and its helper -----------------------------------------------------------------


def test_shell_scripts_are_executable_and_parse():
    for script in (DEPLOY, CHECK_TERRAFORM):
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_deploy_reads_only_declared_terraform_outputs():
    outputs = re.findall(r"tf_output (\w+)", DEPLOY.read_text())
    assert outputs
    assert set(outputs) <= set(tf.load().outputs)


def test_deploy_registers_a_revision_waits_and_smoke_tests():
    script = DEPLOY.read_text()
    for step in (
        "docker build --target runtime",
        "docker push",
        'aws --region "$region" ecs register-task-definition',
        'aws --region "$region" ecs update-service',
        'aws --region "$region" ecs wait services-stable',
        'curl --silent --output /dev/null --write-out "%{http_code}"'.replace('"', "'"),
    ):
        assert step in script, step
    assert "HEALTH_URL:-$(tf_output health_check_url)" in script
    assert tf.load().outputs["health_check_url"]["value"].endswith("/health")


FAKE_AWS = r"""#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
region = os.environ["AWS_REGION"]
if args[:1] == ["--region"]:
    region, args = args[1], args[2:]
with open(os.environ["CALLS"], "a") as calls:
    calls.write(json.dumps([region] + args) + "\n")
command = " ".join(args[:2])
if command == "ecs describe-task-definition":
    print(json.dumps({"taskDefinition": {"family": "f", "containerDefinitions": [
        {"name": "runtime", "image": "old"}]}}))
elif command == "ecs register-task-definition":
    print(f"arn:aws:ecs:{region}:1:task-definition/f:2")
elif command == "ecs describe-services":
    print(f"arn:aws:ecs:{region}:1:task-definition/f:2\tCOMPLETED")
"""


def _fake_bin(tmp_path, secondary):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    outputs = {
        "ecr_repository_url": "1.dkr.ecr.us-east-1.amazonaws.com/link-runtime-prod",
        "ecs_cluster_name": "link-runtime-prod",
        "ecs_service_name": "runtime",
        "ecs_task_family": "link-runtime-prod",
        "ecs_container_name": "runtime",
        "health_check_url": "https://go.example.com/health",
    }
    terraform = (
        "#!/usr/bin/env python3\nimport json, sys\n"
        f"outputs = {json.dumps(outputs)!r}\nsecondary = {json.dumps(secondary)!r}\n"
        "name = sys.argv[-1]\n"
        "print(secondary if name == 'secondary' else json.loads(outputs)[name], end='')\n"
    )
    for name, text in {
        "aws": FAKE_AWS,
        "terraform": terraform,
        "curl": "#!/bin/sh\nprintf 200\n",
        "docker": "#!/bin/sh\nexit 1\n",
    }.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("two_regions", [False, True])
def test_deploy_rolls_out_every_region_of_the_estate(tmp_path, two_regions):
    secondary = (
        {
            "region": "eu-west-1",
            "ecr_repository_url": "1.dkr.ecr.eu-west-1.amazonaws.com/link-runtime-prod",
            "ecs_cluster_name": "link-runtime-prod-2",
            "ecs_service_name": "runtime-2",
            "ecs_task_family": "link-runtime-prod-2",
        }
        if two_regions
        else None
    )
    bin_dir = _fake_bin(tmp_path, secondary)
    calls = tmp_path / "calls.ndjson"
    result = subprocess.run(
        ["bash", str(DEPLOY)],
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "ENVIRONMENT": "prod",
            "SKIP_TESTS": "1",
            "CALLS": str(calls),
            "HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    made = [json.loads(line) for line in calls.read_text().splitlines()]
    updates = [
        (c[0], c[c.index("--cluster") + 1]) for c in made if c[1:3] == ["ecs", "update-service"]
    ]
    expected = [("us-east-1", "link-runtime-prod")]
    if two_regions:
        expected.append(("eu-west-1", "link-runtime-prod-2"))
        registered = [c for c in made if c[1:3] == ["ecs", "register-task-definition"]]
        assert len(registered) == 2
        # The secondary runs the same image from its own registry (replicated).
        (spec,) = [c for c in made if c[0] == "eu-west-1" and c[1:3] == ["ecr", "describe-images"]]
        assert spec[-1].startswith("imageTag=")
    assert updates == expected


def _new_task_definition():
    spec = importlib.util.spec_from_file_location(
        "new_task_definition", ROOT / "scripts" / "new_task_definition.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DESCRIBED = {
    "taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/link-runtime-prod:7",
        "family": "link-runtime-prod",
        "revision": 7,
        "status": "ACTIVE",
        "registeredAt": "2026-01-01T00:00:00Z",
        "registeredBy": "arn:aws:iam::111111111111:role/terraform",
        "requiresAttributes": [{"name": "ecs.capability.secrets.asm.environment-variables"}],
        "compatibilities": ["EC2", "FARGATE"],
        "cpu": "512",
        "containerDefinitions": [
            {"name": "runtime", "image": "repo:old", "secrets": [{"name": "IP_HASH_KEY"}]},
            {"name": "sidecar", "image": "sidecar:1"},
        ],
    },
    "tags": [{"key": "Environment", "value": "prod"}],
}


def test_new_revision_changes_only_the_runtime_image():
    module = _new_task_definition()
    registration = module.new_revision(DESCRIBED, "runtime", "repo:new")
    assert not set(registration) & module.READ_ONLY_FIELDS
    runtime, sidecar = registration["containerDefinitions"]
    assert runtime == {"name": "runtime", "image": "repo:new", "secrets": [{"name": "IP_HASH_KEY"}]}
    assert sidecar == {"name": "sidecar", "image": "sidecar:1"}
    assert registration["cpu"] == "512" and registration["family"] == "link-runtime-prod"
    assert registration["tags"] == DESCRIBED["tags"]
    assert DESCRIBED["taskDefinition"]["containerDefinitions"][0]["image"] == "repo:old"


def test_new_revision_refuses_an_unknown_container():
    with pytest.raises(ValueError, match="runtim"):
        _new_task_definition().new_revision(DESCRIBED, "runtim", "repo:new")


def test_new_revision_command_line(tmp_path):
    described = tmp_path / "described.json"
    described.write_text(json.dumps(DESCRIBED))
    result = subprocess.run(
        [
            "python3",
            str(ROOT / "scripts" / "new_task_definition.py"),
            str(described),
            "runtime",
            "r:2",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["containerDefinitions"][0]["image"] == "r:2"


def test_deploy_uses_the_tasks_container_name():
    # The root output is the primary region's, which the module takes from its local.
    assert (
        tf.load().outputs["ecs_container_name"]["value"] == "${module.primary.ecs_container_name}"
    )
    region = tf.load(tf.REGION_DIR)
    assert region.outputs["ecs_container_name"]["value"] == "${local.container_name}"


# --- the CI workflow --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def _runs(job) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_pull_requests_and_deploys_run_what_ci_runs(workflow):
    ci = yaml.safe_load(CI_WORKFLOW.read_text())
    triggers = ci[True]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and "workflow_call" in triggers
    assert "bash .ci/run" in _runs(ci["jobs"]["ci"])
    assert workflow["jobs"]["test"]["uses"] == "./.github/workflows/ci.yml"
    script = CI_SCRIPT.read_text()
    for step in (
        "make check-lock",
        "make lint",
        "scripts/check-terraform",
        "make dev-once",
        "make test-compiled",
    ):
        assert step in script
    assert script.count("make test") >= 2 and "scripts/postgres" in script  # SQLite, PostgreSQL


def test_workflow_tests_then_deploys_dev_then_prod(workflow):
    jobs = workflow["jobs"]
    assert jobs["deploy-dev"]["needs"] == "test"
    assert set(jobs["deploy-prod"]["needs"]) == {"test", "deploy-dev"}
    for name, environment in (("deploy-dev", "dev"), ("deploy-prod", "prod")):
        job = jobs[name]
        assert job["environment"] == environment
        assert job["permissions"]["id-token"] == "write"  # OIDC, no stored keys
        (deploy_step,) = [step for step in job["steps"] if step.get("run") == "./deploy.sh"]
        assert deploy_step["env"]["ENVIRONMENT"] == environment


def test_workflow_gives_deploy_only_variables_it_reads(workflow):
    script = DEPLOY.read_text()
    for name in ("deploy-dev", "deploy-prod"):
        (deploy_step,) = [
            s for s in workflow["jobs"][name]["steps"] if s.get("run") == "./deploy.sh"
        ]
        for variable in deploy_step["env"]:
            assert re.search(rf"\${{{variable}\b", script), f"deploy.sh never reads {variable}"


# --- checkov ----------------------------------------------------------------------------------


def test_check_terraform_uses_its_own_ignored_venv():
    script = CHECK_TERRAFORM.read_text()
    assert '"${CHECKOV_VENV:-.venv-checkov}"' in script
    assert "--soft-fail" not in script
    assert ".venv-checkov/" in (ROOT / ".gitignore").read_text().splitlines()


def test_every_checkov_skip_is_justified():
    skips = []
    for path in sorted(Path(tf.TERRAFORM_DIR).glob("*.tf")):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                match = re.fullmatch(r"\s*#checkov:skip=(CKV2?_AWS_\d+):(.+)", line)
                assert match, f"{path.name}: malformed skip: {line.strip()}"
                assert len(match.group(2).split()) >= 5, (
                    f"{path.name}: {match.group(1)} needs a reason"
                )
                skips.append(match.group(1))
    assert skips, "no skips found: this check would be vacuous"


# --- docs ---------------------------------------------------------------------------------------


def test_deployment_doc_names_files_that_exist():
    text = (ROOT / "docs" / "DEPLOYMENT.md").read_text()
    for path in set(re.findall(r"environments/[\w.-]+", text)):
        name = path.removeprefix("environments/")
        if name.endswith(".s3.tfbackend"):
            name += ".example"  # the real one is a gitignored copy
        if "<" in name:
            continue
        assert (tf.ENVIRONMENTS_DIR / name).is_file(), path
    for environment in ("dev", "prod"):
        assert f"environments/{environment}.tfvars" in text or f"{environment}.tfvars" in text
