"""OpenTelemetry traces of every job (issue 19 §3): where they are exported (`export`) and the spans of an
orchestration, made from its Durable history when it ends (`spans`)."""
