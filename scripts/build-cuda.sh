#!/usr/bin/env bash
# Builds the CUDA variant of `triageboard` (Candle's CUDA backend, kernels for sm_90 =
# H100/H200) on a machine without a GPU, from PyPI's CUDA 13.0 wheels and crates.io only.
#
#   scripts/build-cuda.sh            # -> target-cuda/release/triageboard
#   CUDNN=1 scripts/build-cuda.sh    # with cuDNN as well
#
# What it needs and does (docs/reference-models.md, "CUDA"):
# - .cuda-venv/: nvcc, cudart, cuBLAS, cuRAND, NVRTC and CCCL headers of CUDA 13.0.2 (+ cuDNN 9),
#   the versions torch 2.11 (cu130) depends on, i.e. what a GPU machine with driver 580 has.
#   nvidia-cuda-crt and nvidia-nvvm are pinned: the nvcc wheel would pull 13.5 parts, whose
#   PTX driver 580 cannot load.
# - .cuda-root/: a toolkit folder of links into the wheels, unversioned library names added.
# - a link-time stand-in libcuda.so (every cu* entry point of cudarc returning an error): the
#   driver's own libcuda.so.1 replaces it at run time on the GPU machine. Never ship it.
# The binary needs at run time: libcuda.so.1 (driver), libcudart.so.13, libcublas.so.13,
# libcublasLt.so.13, libcurand.so.10 (and libcudnn.so.9 with CUDNN=1), e.g. from torch's wheels.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.cuda-venv"
cuda_root="$root/.cuda-root"
features="cuda"
if [[ "${CUDNN:-0}" == 1 ]]; then features="cudnn"; fi

if ! ls "$venv"/lib/python3*/site-packages/nvidia/cu13/bin/nvcc >/dev/null 2>&1; then
    echo "installing the CUDA 13.0 toolkit wheels into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "cuda-toolkit[nvcc,cudart,cublas,curand,nvrtc,cccl]==13.0.2" \
        nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 nvidia-cudnn-cu13==9.19.0.56
fi
sp="$("$venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')"
cu="$sp/nvidia/cu13"

rm -rf "$cuda_root"
mkdir -p "$cuda_root/lib64/stubs"
for d in bin include nvvm; do ln -s "$cu/$d" "$cuda_root/$d"; done
for lib in "$cu"/lib/*.so* "$sp"/nvidia/cudnn/lib/*.so*; do
    [[ -e "$lib" ]] || continue
    ln -sf "$lib" "$cuda_root/lib64/$(basename "$lib")"
    base="$(basename "$lib" | sed -E 's/\.so(\.[0-9]+)*$/.so/')"
    [[ -e "$cuda_root/lib64/$base" ]] || ln -s "$lib" "$cuda_root/lib64/$base"
done
if [[ -d "$sp/nvidia/cudnn/include" ]]; then
    for h in "$sp"/nvidia/cudnn/include/*.h; do ln -sf "$h" "$cuda_root/lib64/../include/" 2>/dev/null || true; done
fi

# The stand-in libcuda for linking: cudarc loads the real driver symbols by name.
cargo fetch --quiet
cudarc="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* | sort | tail -1)"
grep -ohE 'pub unsafe fn cu[A-Za-z0-9_]+' "$cudarc/src/driver/sys/mod.rs" | sed 's/pub unsafe fn //' | sort -u \
    | awk '{ printf "int %s(void) { return 999; }\n", $1 }' > "$cuda_root/lib64/stubs/libcuda.c"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$cuda_root/lib64/stubs/libcuda.so" "$cuda_root/lib64/stubs/libcuda.c"

export CUDA_HOME="$cuda_root" CUDA_PATH="$cuda_root" CUDA_ROOT="$cuda_root" CUDA_TOOLKIT_ROOT_DIR="$cuda_root"
export PATH="$cuda_root/bin:$PATH" CUDA_COMPUTE_CAP=90
export LIBRARY_PATH="$cuda_root/lib64:$cuda_root/lib64/stubs"
export CPATH="$cuda_root/include:$sp/nvidia/cudnn/include"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target-cuda}"
cargo build --release --locked --features "$features" --bin triageboard
echo "built $CARGO_TARGET_DIR/release/triageboard (features: $features)" >&2
