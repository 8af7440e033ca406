{
  "targets": [
    {
      "target_name": "morphoprof_native",
      "sources": ["native/kernels.c"],
      "cflags": ["-O3", "-ffp-contract=off", "-fno-fast-math"],
      "cflags_c": ["-std=c11"]
    }
  ]
}
