#!/usr/bin/env bash
# Installs Mesa's lavapipe (a Vulkan driver on the CPU) from Debian bookworm-backports, so the webgpu
# backend (Dawn) runs without a GPU and test/runtime/webgpu.test.ts checks the WebGPU path in CI.
# Bookworm's own Mesa 22.3 is too old for Dawn. Needs root and apt; otherwise it says so and the
# webgpu tests skip (they say why).
set -uo pipefail
icd=/usr/share/vulkan/icd.d/lvp_icd.json
if [[ -f $icd ]]; then echo "lavapipe: already installed"; exit 0; fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "lavapipe: not installed (needs root and apt-get); the webgpu tests will be skipped" >&2
  exit 0
fi
if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/moe-backports.list
fi
if apt-get update -qq >/dev/null 2>&1 &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null 2>&1; then
  echo "lavapipe: installed $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
else
  echo "lavapipe: installation failed; the webgpu tests will be skipped" >&2
fi
exit 0
