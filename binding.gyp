{
  "targets": [
    {
      "target_name": "vdispl_native",
      "sources": ["<!@(ls -1 native/src/*.cc)"],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include\")",
        "<!@(pkg-config --cflags-only-I libdrm | sed 's/-I//g')"
      ],
      "libraries": ["<!@(pkg-config --libs libdrm)"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fexceptions"]
    }
  ]
}
