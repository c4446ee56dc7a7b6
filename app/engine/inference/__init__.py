"""Filling a hole: the pipeline and its strategies, the network call, CRA upscaling, the texture
stage (PatchMatch), the Telea prefill and the flow view."""
