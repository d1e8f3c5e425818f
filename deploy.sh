#!/usr/bin/env bash
# Release the redirect runtime: test, build the image, push it to ECR, register a new
# task-definition revision running it, roll the ECS service onto that revision, wait until the
# service is stable on it, and smoke-test /health through CloudFront.
#
#   ENVIRONMENT=dev ./deploy.sh
#   ENVIRONMENT=prod IMAGE_TAG=<commit sha> ./deploy.sh    # a commit already built elsewhere
#
# Names come from `terraform output` (run `terraform init` with the environment's backend file
# first, see docs/DEPLOYMENT.md) unless given in the environment, as CI does:
#   ECR_REPOSITORY_URL, ECS_CLUSTER, ECS_SERVICE, TASK_FAMILY, CONTAINER_NAME, HEALTH_URL
# Other knobs: AWS_REGION (default us-east-1), SKIP_TESTS=1 (CI tests in an earlier job).
#
# Rolling back is deploying an older commit: IMAGE_TAG=<older sha> ./deploy.sh (the image is
# still in ECR, so nothing is rebuilt).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

: "${ENVIRONMENT:?set ENVIRONMENT to dev or prod}"
export AWS_REGION="${AWS_REGION:-us-east-1}"

log() { printf '\n==> %s\n' "$*" >&2; }
tf_output() { terraform -chdir=terraform output -raw "$1"; }

HEAD_COMMIT="$(git rev-parse HEAD)"
IMAGE_TAG="${IMAGE_TAG:-$HEAD_COMMIT}"

ECR_REPOSITORY_URL="${ECR_REPOSITORY_URL:-$(tf_output ecr_repository_url)}"
ECS_CLUSTER="${ECS_CLUSTER:-$(tf_output ecs_cluster_name)}"
ECS_SERVICE="${ECS_SERVICE:-$(tf_output ecs_service_name)}"
TASK_FAMILY="${TASK_FAMILY:-$(tf_output ecs_task_family)}"
CONTAINER_NAME="${CONTAINER_NAME:-$(tf_output ecs_container_name)}"
HEALTH_URL="${HEALTH_URL:-$(tf_output health_check_url)}"
IMAGE="$ECR_REPOSITORY_URL:$IMAGE_TAG"
REPOSITORY_NAME="${ECR_REPOSITORY_URL#*/}"

echo "environment=$ENVIRONMENT region=$AWS_REGION image=$IMAGE service=$ECS_CLUSTER/$ECS_SERVICE" >&2

# --- 1. test ----------------------------------------------------------------------------------
if [[ "${SKIP_TESTS:-0}" != "1" ]]; then
    log "Testing"
    python -m pytest -q
fi

# --- 2-3. build and push (unless this commit's image is already in the repository) ------------
if aws ecr describe-images --repository-name "$REPOSITORY_NAME" \
    --image-ids imageTag="$IMAGE_TAG" >/dev/null 2>&1; then
    log "Image $IMAGE is already in ECR; not rebuilding"
else
    # Tags are immutable in ECR and name a commit: build only the checked-out commit, clean.
    if [[ "$IMAGE_TAG" != "$HEAD_COMMIT" ]]; then
        echo "deploy.sh: $IMAGE is not in ECR and $IMAGE_TAG is not the checked-out commit" >&2
        exit 1
    fi
    if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
        echo "deploy.sh: the working tree has uncommitted changes; commit them first" >&2
        exit 1
    fi
    log "Building $IMAGE"
    docker build --target runtime --pull \
        --label "org.opencontainers.image.revision=$IMAGE_TAG" \
        -t "$IMAGE" .

    log "Pushing $IMAGE"
    aws ecr get-login-password | docker login --username AWS --password-stdin "${ECR_REPOSITORY_URL%%/*}"
    docker push "$IMAGE"
fi

# --- 4. a new task-definition revision: the family's latest, with the new image ----------------
log "Registering a revision of $TASK_FAMILY with $IMAGE"
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
aws ecs describe-task-definition --task-definition "$TASK_FAMILY" --include TAGS \
    >"$workdir/described.json"
python3 scripts/new_task_definition.py "$workdir/described.json" "$CONTAINER_NAME" "$IMAGE" \
    >"$workdir/register.json"
TASK_DEFINITION_ARN="$(aws ecs register-task-definition \
    --cli-input-json "file://$workdir/register.json" \
    --query 'taskDefinition.taskDefinitionArn' --output text)"
echo "registered $TASK_DEFINITION_ARN" >&2

# --- 5. deploy and wait -------------------------------------------------------------------------
log "Updating $ECS_SERVICE"
aws ecs update-service --cluster "$ECS_CLUSTER" --service "$ECS_SERVICE" \
    --task-definition "$TASK_DEFINITION_ARN" >/dev/null

log "Waiting for the service to be stable"
aws ecs wait services-stable --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE"

# A deployment the circuit breaker rolled back is also "stable", on the old revision.
# shellcheck disable=SC2016 # backticks are JMESPath literals, not command substitution
read -r RUNNING_DEFINITION ROLLOUT_STATE < <(aws ecs describe-services \
    --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE" \
    --query 'services[0].deployments[?status==`PRIMARY`] | [0].[taskDefinition, rolloutState]' \
    --output text)
if [[ "$RUNNING_DEFINITION" != "$TASK_DEFINITION_ARN" || "$ROLLOUT_STATE" != "COMPLETED" ]]; then
    echo "deploy.sh: the service runs $RUNNING_DEFINITION ($ROLLOUT_STATE), not $TASK_DEFINITION_ARN: the deployment failed and was rolled back" >&2
    exit 1
fi

# --- 6. smoke test ------------------------------------------------------------------------------
log "Smoke test: $HEALTH_URL"
status=000
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    status="$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 5 \
        "$HEALTH_URL" || true)"
    [[ "$status" == "200" ]] && break
    echo "attempt $attempt: $HEALTH_URL answered $status" >&2
    sleep 3
done
if [[ "$status" != "200" ]]; then
    echo "deploy.sh: $HEALTH_URL did not answer 200 (last: $status)" >&2
    exit 1
fi

log "Deployed $IMAGE to $ECS_CLUSTER/$ECS_SERVICE ($TASK_DEFINITION_ARN)"
