/**
 * Known-answer data for the self-test every backend passes before a suite uses it
 * (src/crypto/self-test.ts). The KDF and DH cases are copies of NIST CAVS/ACVP and RFC 5903/5114
 * vectors (test/fixtures/vectors has them all); the RSA key was generated for Oakley and its
 * signatures made with node:crypto, a separate implementation from the native and pkcs11 paths.
 */
export const KDF_CASES: readonly Record<string, unknown>[] = [
  {
    hashAlg: 'SHA-1',
    authMethod: 'psk',
    ckyI: '83d374c30b3b5082',
    ckyR: '5afc0da06c728029',
    ni: 'b9a2d0e922dc66dd',
    nr: '2130166863b5ddef',
    gxy: '739003ba2c11c982946c65e26acf661fbf8ebb78011a9fead79efa12fe3e71cc',
    psk: '75',
    skeyid: '62b04d112877e442fc3282fc37c076997718a0b9',
    skeyidD: '369e5aad1bdb5faf6a3d929d500cdc236710a9ab',
    skeyidA: '588e957d8d790d093b3a39f121473473af78e9bb',
    skeyidE: 'cd74b0c048219db81384d3fda8f6cda51e398a2b'
  },
  {
    hashAlg: 'SHA2-256',
    authMethod: 'dsa',
    ckyI: '30293584b2cd84c2',
    ckyR: '2402d7e8cf6958ca',
    ni: '9da2d58f57f039f9',
    nr: '204e0dd0ef04f372',
    gxy: '33f17afcb6134cbf1cab59877d42db3582226eff74dd37eb8b75e675645fc169',
    skeyid: '804b4a1e0ec593cfb6e454524149396de234d0dae29f34a8fdb5f9afe76ea652',
    skeyidD: 'f8ee9b1e8b7c03cf1595f7e197b0d873c5665453d512978c418823f53f18e055',
    skeyidA: '3c9d88515fdd981741b99c482e8d88dacdb6f9fcec2dd22af286087174645f49',
    skeyidE: '960563201c344d72797c3f92d81a1c36c7dbe9cbd59780cbaaeba7aa23deaf3c'
  },
  {
    hashAlg: 'SHA2-256',
    nInit: '3f302be1abcb28e1',
    nResp: '8c332ee006064c9b',
    gir: '0f4d257d7a58fc4545c7d7a88119eee5d5c9690c5b4c989171d3abbfd99d1d29',
    girNew: '25f3b12d6f282739256e39bf54eda53b60ffcf379bb7bcc90c27b4c4c578616c',
    spiInit: '40dac39e1e1a8640',
    spiResp: '8619a1cf9a6e4c07',
    derivedKeyingMaterialLength: 1056,
    derivedKeyingMaterialChildLength: 1056,
    sKeySeed: '5f00d1bd2c58ec224b1e6b71fa0f19a1faa7a193952c444411b47c1a9d8ba6fe',
    derivedKeyingMaterial: '0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ece98aca531188d16041b3bb936d2dbb3b4993a6e768a809160de45d0283f273a6cdf6854379e31be72b8d3d1fa990cf9c5b015ca9f918a7df6253c958114a09d4e1c19bdcd4db14b29d98db1a74ad405c588662c14a04d0d36aa4ab55e90f8986d12d4aad',
    derivedKeyingMaterialChild: '7d808e2b44635300e7025f1b640c431b13a9b3b891cd45a15261f4f3c4a7e39b3a3c8017ccc2b74610faf52ba3faf6d9e83c859b448217b24dadc82c9887460b7bd724236b9885914cc93b39d6c749e92f36b30c9eb6a9f59e396bc7c0ac4878512639cc612c5660ddb1a1fed360ac8b9b3f548f13482d0431b38eca293ef97681e179fc',
    derivedKeyingMaterialDh: '67edd256e64542436173e3ca39ef1fdec3c8240b860df26f84caf5258578ff35df40ddc31ea210e0523988b7531c9dc3207e0e98e256214999c7712f73ff044a9cf6e3a5e421862b9ba140862f460ea5236527cf8346db9ac23feb6636e21fc7a18a94a2e9d4ad95356e278f46ac3fa53a75a058c87293cf38dd863e879f84d0e0935da3',
    sKeySeedReKey: '2d63f6debc92048b4fef3889c4c99ca67d6496e0fac14a2bca9a2d6566ff2398'
  }
];

export const DH_CASES: readonly Record<string, unknown>[] = [
  {
    group: 19,
    privI: 'c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433',
    privR: 'c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53',
    pubI: 'dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c37725811805271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3',
    pubR: 'd12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf6356fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab',
    sharedSecret: 'd6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de'
  },
  {
    group: 22,
    privI: 'b9a3b3ae8fefc1a2930496507086f8455d48943e',
    privR: '9392c9f9eb6a7a6a9022f7d83e7223c6835bbdda',
    pubI: '2a853b3d92197501b9015b2deb3ed84f5e021dcc3e52f109d3273d2b7521281cbabe0e76ff5727fa8acce26956ba9a1fca26f20228d8693feb10841d84a7360054ece5a7f5b7a61ad3dfb3c60d2e43106d8727da37df9cce95b478755d06bcea8f9d45965f75a5f3d1df3701165fc9e50c4279ceb07f989540ae96d5d88ed776',
    pubR: '717a6cb053371ff4a3b932941c1e5663f861a1d6ad34ae66576dfb98f6c6cbf9ddd5a56c7833f6bcfdff095582ad868e440e8d09fd769e3ceccdc3d3b1e4cfa057776caaf9739b6a9fee8e7411f8d6dac09d6a4edb46cc2b5d5203090eae6126311e53fd2c14b574e6a3109a3da1be41bdceaa186f5ce06716a2b6a07b3c33fe',
    sharedSecret: '5c804f454d30d9c4df85271f93528c91df6b48ab5f80b3b59caac1b28f8acba9cd3e39f3cb614525d9521d2e644c53b807b810f340062f257d7d6fbfe8d5e8f072e9b6e9afda9413eafb2e8b0699b1fb5a0caceddeaead7e9cfbb36ae2b420835bd83a19fb0b5e96bf8fa4d09e345525167ecd9155416f46f408ed31b63c6e6d'
  }
];

/** A 1024-bit RSA test key (generated for these tests only; it protects nothing). */
export const RSA_KAT = {
  privateKeyPem: '-----BEGIN PRIVATE KEY-----\nMIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBAK9my8aZzRQ0t/+N\nEpR0k90hraszVwLNfHS4dEstcJNkoJaNi7jqm9H60h7bdmktisMUDk2hRJx1qnOd\npBRoUxN6t6ZcszDjgVbZyc2xApvnTKVpespwgAbonTJ9iTZP2MJVg0QUl6uybRv5\nYsAD9n5xzH1UKy5I1CYbXbJa5S23AgMBAAECgYBaMZ3vjf7quQE0o7I+LIQsXbkU\nI95GTqwEySTj04XkBQae5EJI4DsoCrYpr+h/xS9piNKiEJ9bZRY1RYauB8dPjwgk\nXrz/Tlso61PXalADdUd9QfVXk32rPlsVHCy9x/KiRj6cq0BwIIfhifZ5Q1xS6ENn\n1XpljNZICyxVQJeM4QJBANUU4rRo13cFA3WlxfuAZU+zMwmRQVnqbnJduU3z3EsP\nHHgPh9NA3gS+P4QYMkxjoA9hW6jA4agsv0iLwfG17AMCQQDSuwREGSOlWVt0c73T\nK2M/2nP5Xvb8t3R0YHIsIsCI9mttM0uhp0zOGsaRAMChMp6pOuiZMnzyXMxFP/46\nt/s9AkB9Di/rT+i82n1oS62BaJ6NAw/+GnjvS44covMBVBDDIJBFyl+d1WE4CWv/\nm6/Rc1raC/qedO07JV/yNMvTj0B/AkAQaWA7rXmJNxxYRWtTNt3T6z98/Fhf9imr\nppc9uLcl84sKRiRtwonIw20TfeuCol6Y722OANCaT3/ZJNK33/xBAkBqO9Kf1m+Z\nqBB/lGAAQIh3BmxWJwUpXNsqfcDmynKuBqelvjkWIn2vdyWyMbjUrBLkNLYBiiZb\niCCms0pZVpTn\n-----END PRIVATE KEY-----\n',
  message: 'Oakley RSA known-answer test',
  /** RSASSA-PKCS1-v1_5 with SHA-256 over message. */
  pkcs1Sha256: '2536a7902bd989ae6084ed2f3715369e2d86176be423bf8d0ad9269a76d1cc39b2692b5f739686da843f8239a327cc37339240542cf6f02492ed58a75ece07a2a98ecb6198ca14f985940debeed9bbc61ab294126996dcb9a84016b7a98abfbfbd6a81c39131937fb1c68fed064a2448604cc871467f23a345bf9c4afd097ffd',
  /** Type-1 padding over the bare SHA-1 of message (IKEv1 style). */
  pkcs1RawSha1: '5c4b9cd0587ab092db7ccd7651ca2dfb5548178c42268f1d5156003bf6b197cae8da6f503f036460f05298e557e799cf1de2d5e3dabd1571979c9abac647c49fc77cd05c7233e28729575acf448fd69788cb4fcffb75fd06f0275fb44e244972ea04ea623c12a3c39cd43721d26ad7deee93b700a5842e7f2d04edad1da09bed',
};

/** NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt), first block. */
export const AES_CBC_KAT = {
  key: '2b7e151628aed2a6abf7158809cf4f3c',
  iv: '000102030405060708090a0b0c0d0e0f',
  plaintext: '6bc1bee22e409f96e93d7e117393172a',
  ciphertext: '7649abac8119b246cee98e9b12e9197d',
};
