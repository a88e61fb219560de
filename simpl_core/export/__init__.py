"""Policy bundles from trained models (torch side): `skills` starts a bundle from a skill run, `meta` adds a SiMPL
meta-training run to it; `graphs` is the ONNX export both use. The bundle's file names and format live in
simpl_core.runtime.bundle, which serving reads without torch."""
