# Sourced by gpu.sh and gpu-train.sh on the GPU machine: a CUDA binary from its .xz, and the
# CUDA libraries it needs on LD_LIBRARY_PATH (torch's wheels there have them).

# Prints a runnable path for binary $1: $1 itself, or $1.xz unpacked into /tmp.
unpacked() {
    local bin="$1"
    if [[ ! -x "$bin" && -f "$bin.xz" ]]; then
        local to="/tmp/$(basename "$bin")-cuda"
        xz -dkc "$bin.xz" > "$to" && chmod +x "$to"
        bin="$to"
    fi
    echo "$bin"
}

# Puts torch's CUDA libraries on LD_LIBRARY_PATH, then any library binary $1 still misses,
# looked for under site-packages and /usr.
cuda_libraries() {
    local sp lib found
    sp="$(python3 -c 'import site; print(site.getsitepackages()[0])')"
    export LD_LIBRARY_PATH="$sp/nvidia/cu13/lib:$sp/nvidia/cudnn/lib:$sp/nvidia/cublas/lib:$sp/nvidia/cuda_runtime/lib:$sp/nvidia/curand/lib:${LD_LIBRARY_PATH:-}"
    # Safe under `set -euo pipefail`: a library found nowhere is left for the binary to name.
    for lib in $(ldd "$1" | awk '/not found/ {print $1}'); do
        found="$( (find "$sp" /usr/local /usr/lib -name "$lib" 2>/dev/null || true) | head -1)"
        if [[ -n "$found" ]]; then
            export LD_LIBRARY_PATH="$(dirname "$found"):$LD_LIBRARY_PATH"
        fi
    done
}
