#!/usr/bin/env bash
# Claude Code as a Miyabi Orchestra agent (docs/AGENT_PROTOCOL.md, "Claude Code").
#
#   agents:
#     codegen:
#       command: ["{packageRoot}/examples/agents/wrappers/claude-code.sh"]
#       env: [ANTHROPIC_API_KEY]
#
# Why this shell script is safe with a prompt full of issue text: "$prompt" in double quotes is
# expanded ONCE into ONE argument. Bash does not split it into words, expand globs in it, or look
# for $(...), backticks or ; in the text it produced: those are only special in the script's own
# source, and the issue text never is source. `--` ends the options, so a prompt starting with
# "-" is not read as one.
set -euo pipefail
: "${MIYABI_PROMPT_FILE:?run me through miyabi-orchestra}"

# Linux caps one argument at 128 KiB: a longer prompt is handed over as a file to read.
if [ "$(wc -c < "$MIYABI_PROMPT_FILE")" -lt 120000 ]; then
  prompt=$(cat "$MIYABI_PROMPT_FILE")
else
  prompt="Your instructions are in the file $MIYABI_PROMPT_FILE. Read all of it, then follow it."
fi

# Print mode, no questions: edits are accepted, the listed tools allowed, others refused.
# --add-dir lets it write the result file into the task directory, outside the worktree.
claude -p \
  --output-format json \
  --permission-mode acceptEdits \
  --allowedTools "Bash,Read,Edit,Write,Glob,Grep" \
  --add-dir "$MIYABI_TASK_DIR" \
  -- "$prompt" | tee "$MIYABI_TASK_DIR/claude.json"
