#!/usr/bin/env bash
# Release the redirect runtime: test, build the image, push it to ECR, register a new
# task-definition revision running it, roll the ECS service onto that revision, wait until the
# service is stable on it (the primary region's, then the secondary's in two regions), and
# smoke-test /health through CloudFront.
#
#   ENVIRONMENT=dev ./deploy.sh
#   ENVIRONMENT=prod IMAGE_TAG=<commit sha> ./deploy.sh    # a commit already built elsewhere
#
# Names come from `terraform output` (run `terraform init` with the environment's backend file
# first, see docs/DEPLOYMENT.md) unless given in the environment, as CI does:
#   ECR_REPOSITORY_URL, ECS_CLUSTER, ECS_SERVICE, TASK_FAMILY, CONTAINER_NAME, HEALTH_URL
# Other knobs: AWS_REGION (default us-east-1), SKIP_TESTS=1 (CI tests in an earlier job),
# SECONDARY=none (roll out the primary region only), SECONDARY_JSON (`terraform output -json
# secondary`, for CI without terraform state).
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

# --- 4-5. in each region: a new task-definition revision (the family's latest, with the new
# image), the service rolled onto it, and a wait until it is stable on it ----------------------
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

roll_out() {  # region cluster service family container
    local region="$1" cluster="$2" service="$3" family="$4" container="$5"
    log "[$region] Registering a revision of $family with $IMAGE"
    aws --region "$region" ecs describe-task-definition --task-definition "$family" \
        --include TAGS >"$workdir/described-$region.json"
    python3 scripts/new_task_definition.py "$workdir/described-$region.json" "$container" \
        "$IMAGE_IN_REGION" >"$workdir/register-$region.json"
    local definition
    definition="$(aws --region "$region" ecs register-task-definition \
        --cli-input-json "file://$workdir/register-$region.json" \
        --query 'taskDefinition.taskDefinitionArn' --output text)"
    echo "registered $definition" >&2

    log "[$region] Updating $service"
    aws --region "$region" ecs update-service --cluster "$cluster" --service "$service" \
        --task-definition "$definition" >/dev/null

    log "[$region] Waiting for the service to be stable"
    aws --region "$region" ecs wait services-stable --cluster "$cluster" --services "$service"

    # A deployment the circuit breaker rolled back is also "stable", on the old revision.
    local running state
    # shellcheck disable=SC2016 # backticks are JMESPath literals, not command substitution
    read -r running state < <(aws --region "$region" ecs describe-services \
        --cluster "$cluster" --services "$service" \
        --query 'services[0].deployments[?status==`PRIMARY`] | [0].[taskDefinition, rolloutState]' \
        --output text)
    if [[ "$running" != "$definition" || "$state" != "COMPLETED" ]]; then
        echo "deploy.sh: [$region] the service runs $running ($state), not $definition: the deployment failed and was rolled back" >&2
        exit 1
    fi
}

IMAGE_IN_REGION="$IMAGE"
roll_out "$AWS_REGION" "$ECS_CLUSTER" "$ECS_SERVICE" "$TASK_FAMILY" "$CONTAINER_NAME"

# Two regions: the secondary's service (terraform output `secondary`, null with one region)
# runs the same image from its own registry, where the primary's replicates it (same name).
# SECONDARY=none skips it; SECONDARY_JSON gives the output without terraform, as CI does.
if [[ "${SECONDARY:-}" != "none" ]]; then
    SECONDARY_JSON="${SECONDARY_JSON:-$(terraform -chdir=terraform output -json secondary)}"
    if [[ -n "$SECONDARY_JSON" && "$SECONDARY_JSON" != "null" ]]; then
        read -r S_REGION S_REPOSITORY S_CLUSTER S_SERVICE S_FAMILY < <(python3 -c '
import json, sys
s = json.loads(sys.argv[1])
print(s["region"], s["ecr_repository_url"], s["ecs_cluster_name"], s["ecs_service_name"], s["ecs_task_family"])
' "$SECONDARY_JSON")
        IMAGE_IN_REGION="$S_REPOSITORY:$IMAGE_TAG"
        log "[$S_REGION] Waiting for $IMAGE_IN_REGION to replicate"
        for attempt in $(seq 1 60); do
            aws --region "$S_REGION" ecr describe-images --repository-name "${S_REPOSITORY#*/}" \
                --image-ids imageTag="$IMAGE_TAG" >/dev/null 2>&1 && break
            if [[ "$attempt" == 60 ]]; then
                echo "deploy.sh: $IMAGE_IN_REGION did not replicate to $S_REGION in 10 minutes" >&2
                exit 1
            fi
            sleep 10
        done
        roll_out "$S_REGION" "$S_CLUSTER" "$S_SERVICE" "$S_FAMILY" "$CONTAINER_NAME"
    fi
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

log "Deployed $IMAGE to $ECS_CLUSTER/$ECS_SERVICE${S_REGION:+ and, in $S_REGION, $S_CLUSTER/$S_SERVICE}"
