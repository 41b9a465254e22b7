"""tether inside other people's tools: `tether.integrations.trl.TetherCallback` (TRL and any `transformers.Trainer`)."""
