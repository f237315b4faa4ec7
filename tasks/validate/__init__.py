"""Stage 2, validate: source contracts per delivery, the pooled contract, the policy and the audit."""
