# Oakley native crypto addon (STYLE A.6). Built with `node-gyp rebuild --nodedir=/usr`.
# No -lcrypto: the OpenSSL symbols are resolved at load time against the node executable, which
# statically contains (and exports) its bundled OpenSSL; the headers come from node's own copy
# under <nodedir>/include/node/openssl, listed first so /usr/include/openssl is never picked.
{
  'variables': {
    'openssl_fips': '',
  },
  'targets': [
    {
      'target_name': 'oakley',
      # The AVX-512 IFMA kernel is its own library so that only its file gets -mavx512*.
      'dependencies': ['oakley_ifma'],
      'sources': [
        'native/src/binding.cc',
        'native/src/common.cc',
        'native/src/modexp.cc',
        'native/src/ifma.cc',
        'native/src/ifma_rsa.cc',
        'native/src/ec.cc',
        'native/src/rsa.cc',
        'native/src/kdf.cc',
        'native/src/cipher.cc',
        'native/src/xfrm.cc',
        'native/src/sockopt.cc',
      ],
      'include_dirs': [
        '<(node_root_dir)/include/node',
        'native/include',
        "<!(node -p \"require('node-addon-api').include_dir\")",
      ],
      'defines': [
        'NAPI_VERSION=8',
        'NAPI_CPP_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
        'NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED',
        'OPENSSL_API_COMPAT=30000',
      ],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions'],
      'cflags': [
        '-Wall', '-Wextra', '-Werror',
        '-fvisibility=hidden',
        '-fstack-protector-strong',
      ],
      'cflags_cc': ['-std=c++17', '-fexceptions', '-fvisibility=hidden'],
      'ldflags': ['-Wl,-z,relro', '-Wl,-z,now', '-Wl,-z,noexecstack'],
      'configurations': {
        'Release': {
          'defines': ['_FORTIFY_SOURCE=2'],
          'cflags': ['-O2'],
        },
        'Debug': {
          'defines': ['NODE_ADDON_API_ENABLE_TYPE_CHECK_ON_AS'],
        },
      },
    },
    {
      # AVX-512 IFMA multi-buffer modexp kernel (native/include/ifma.h). Only this file is built
      # with -mavx512*; it runs only after the CPU check in native/src/ifma.cc, so the addon still
      # loads and runs on any x86-64. -fPIC: it is linked into the shared addon.
      'target_name': 'oakley_ifma',
      'type': 'static_library',
      'sources': ['native/src/ifma_kernel.cc'],
      'include_dirs': ['native/include'],
      'cflags': [
        '-Wall', '-Wextra', '-Werror', '-fPIC',
        '-fvisibility=hidden', '-fstack-protector-strong',
        '-O3', '-mavx512f', '-mavx512vl', '-mavx512ifma',
      ],
      'cflags_cc': ['-std=c++17', '-fvisibility=hidden'],
    },
  ],
}
