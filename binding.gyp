{
  "variables": {
    # The Wayland output needs libwayland-client and the protocol XML (libwayland-dev and
    # wayland-protocols, which scripts/setup.sh installs). Where they are absent (a minimal build
    # image) vdispl_wayland.node is not built and `--output wayland` says what is missing.
    "wayland%": "<!(pkg-config --exists wayland-client wayland-scanner wayland-protocols && echo 1 || echo 0)"
  },
  # What both modules are compiled with: N-API 8 with C++ exceptions.
  "target_defaults": {
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fexceptions"]
  },
  "targets": [
    {
      "target_name": "vdispl_native",
      "sources": ["<!@(ls -1 native/src/*.cc)"],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include\")",
        "<!@(pkg-config --cflags-only-I libdrm | sed 's/-I//g')"
      ],
      "libraries": ["<!@(pkg-config --libs libdrm)"]
    }
  ],
  "conditions": [
    # The Wayland client is a second module, vdispl_wayland.node, so that only `--output wayland`
    # needs libwayland-client at run time: a KMS or headless dom0 loads the main addon alone.
    ["wayland==1", {
      "targets": [
        {
          "target_name": "vdispl_wayland",
          "variables": {
            "protocols": "<!(pkg-config --variable=pkgdatadir wayland-protocols)",
            "scanner": "<!(pkg-config --variable=wayland_scanner wayland-scanner)"
          },
          "sources": ["native/src/wayland/module.cc", "native/src/wayland/wayland_client.cc", "native/src/errors.cc"],
          "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")", "<(INTERMEDIATE_DIR)"],
          "libraries": ["<!@(pkg-config --libs wayland-client)"],
          # Protocol code generated from the XML at build time, never written by hand.
          "actions": [
            {
              "action_name": "xdg_shell_client_header",
              "inputs": ["<(protocols)/stable/xdg-shell/xdg-shell.xml"],
              "outputs": ["<(INTERMEDIATE_DIR)/xdg-shell-client-protocol.h"],
              "action": ["<(scanner)", "client-header", "<@(_inputs)", "<@(_outputs)"]
            },
            {
              "action_name": "xdg_shell_code",
              "inputs": ["<(protocols)/stable/xdg-shell/xdg-shell.xml"],
              "outputs": ["<(INTERMEDIATE_DIR)/xdg-shell-protocol.c"],
              "action": ["<(scanner)", "private-code", "<@(_inputs)", "<@(_outputs)"],
              "process_outputs_as_sources": 1
            },
            {
              "action_name": "linux_dmabuf_client_header",
              "inputs": ["<(protocols)/unstable/linux-dmabuf/linux-dmabuf-unstable-v1.xml"],
              "outputs": ["<(INTERMEDIATE_DIR)/linux-dmabuf-unstable-v1-client-protocol.h"],
              "action": ["<(scanner)", "client-header", "<@(_inputs)", "<@(_outputs)"]
            },
            {
              "action_name": "linux_dmabuf_code",
              "inputs": ["<(protocols)/unstable/linux-dmabuf/linux-dmabuf-unstable-v1.xml"],
              "outputs": ["<(INTERMEDIATE_DIR)/linux-dmabuf-unstable-v1-protocol.c"],
              "action": ["<(scanner)", "private-code", "<@(_inputs)", "<@(_outputs)"],
              "process_outputs_as_sources": 1
            },
            {
              "action_name": "xdg_output_client_header",
              "inputs": ["<(protocols)/unstable/xdg-output/xdg-output-unstable-v1.xml"],
              "outputs": ["<(INTERMEDIATE_DIR)/xdg-output-unstable-v1-client-protocol.h"],
              "action": ["<(scanner)", "client-header", "<@(_inputs)", "<@(_outputs)"]
            },
            {
              "action_name": "xdg_output_code",
              "inputs": ["<(protocols)/unstable/xdg-output/xdg-output-unstable-v1.xml"],
              "outputs": ["<(INTERMEDIATE_DIR)/xdg-output-unstable-v1-protocol.c"],
              "action": ["<(scanner)", "private-code", "<@(_inputs)", "<@(_outputs)"],
              "process_outputs_as_sources": 1
            },
            {
              "action_name": "presentation_time_client_header",
              "inputs": ["<(protocols)/stable/presentation-time/presentation-time.xml"],
              "outputs": ["<(INTERMEDIATE_DIR)/presentation-time-client-protocol.h"],
              "action": ["<(scanner)", "client-header", "<@(_inputs)", "<@(_outputs)"]
            },
            {
              "action_name": "presentation_time_code",
              "inputs": ["<(protocols)/stable/presentation-time/presentation-time.xml"],
              "outputs": ["<(INTERMEDIATE_DIR)/presentation-time-protocol.c"],
              "action": ["<(scanner)", "private-code", "<@(_inputs)", "<@(_outputs)"],
              "process_outputs_as_sources": 1
            }
          ]
        }
      ]
    }]
  ]
}
