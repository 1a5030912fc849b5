#!/usr/bin/env bash
# The BASELINE for scripts/bench: a ComfyUI entrypoint written the way the original deployment's
# entrypoint.sh worked, before comfy-init. It is not used by the image; it exists to be measured.
# What makes it slow and fragile is kept on purpose:
#   - clone if absent, venv if absent (no check that either is complete or at the right ref);
#   - pip install ComfyUI's requirements, einops and the login node's requirements on EVERY start,
#     one pip run per step, as the steps were added over time;
#   - the password is re-hashed on EVERY start with Python's bcrypt, so the bearer token (the hash)
#     changes at each restart;
#   - then exec python: the server becomes PID 1 in a container, ignores SIGTERM, and `docker stop`
#     waits its whole grace period.
# It reads the same variables as comfy-init (only those it knows), so both run with one environment.
set -e

COMFYUI_HOME=${COMFYUI_HOME:-/opt/comfyui}
COMFYUI_REPO=${COMFYUI_REPO:-https://github.com/comfyanonymous/ComfyUI.git}
COMFYUI_REF=${COMFYUI_REF:-v0.8.0}
COMFYUI_LOGIN_REPO=${COMFYUI_LOGIN_REPO:-https://github.com/liusida/ComfyUI-Login.git}
COMFYUI_LISTEN=${COMFYUI_LISTEN:-0.0.0.0}
COMFYUI_PORT=${COMFYUI_PORT:-8188}
COMFYUI_AUTH=${COMFYUI_AUTH:-login}

mkdir -p "$COMFYUI_HOME"
cd "$COMFYUI_HOME"

if [ ! -d ComfyUI ]; then
    echo "Cloning ComfyUI..."
    git clone "$COMFYUI_REPO" ComfyUI
    git -C ComfyUI checkout "$COMFYUI_REF"
fi

if [ ! -d venv ]; then
    echo "Creating venv..."
    python3 -m venv venv
fi
# shellcheck disable=SC1091 # made just above
source venv/bin/activate

echo "Installing requirements..."
pip install -r ComfyUI/requirements.txt
pip install einops

if [ "$COMFYUI_AUTH" = login ]; then
    if [ ! -d ComfyUI/custom_nodes/ComfyUI-Login ]; then
        echo "Installing ComfyUI-Login..."
        git clone "$COMFYUI_LOGIN_REPO" ComfyUI/custom_nodes/ComfyUI-Login
        if [ -n "${COMFYUI_LOGIN_REF:-}" ]; then
            git -C ComfyUI/custom_nodes/ComfyUI-Login checkout "$COMFYUI_LOGIN_REF"
        fi
    fi
    pip install -r ComfyUI/custom_nodes/ComfyUI-Login/requirements.txt

    echo "Setting the password..."
    mkdir -p ComfyUI/login
    python -c 'import bcrypt, os; print(bcrypt.hashpw(os.environ["COMFYUI_PASSWORD"].encode(), bcrypt.gensalt()).decode())' \
        >ComfyUI/login/PASSWORD
    echo "${COMFYUI_USERNAME:-admin}" >>ComfyUI/login/PASSWORD
fi

cd ComfyUI
read -r -a extra_args <<<"${COMFYUI_ARGS:-}"
echo "Starting ComfyUI..."
exec python main.py --listen "$COMFYUI_LISTEN" --port "$COMFYUI_PORT" "${extra_args[@]}"
