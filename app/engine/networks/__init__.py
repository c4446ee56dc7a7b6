"""The networks: DeepFill v2's gated layers, contextual attention, generator and discriminator,
and LaMa's (with its checkpoint mapping). torch only; nothing here reads files."""
