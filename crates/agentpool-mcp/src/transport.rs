//! Stdio framing in front of rmcp. The SDK silently drops a line it cannot parse, which leaves
//! a client waiting forever; JSON-RPC says such a line gets an error with `id: null`. This
//! layer reads stdin line by line, answers unparseable or invalid messages itself (`-32700`
//! parse error, `-32600` invalid request, `-32602` invalid params) and passes the rest to
//! the SDK through an in-memory pipe. All output goes through one writer, a line at a time,
//! so frames never interleave.

use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;

/// Longest accepted message (the SDK's own limit).
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// The verdict on one input line.
#[derive(Debug, PartialEq)]
pub(crate) enum Line {
    /// Pass to the SDK.
    Forward,
    /// Answer with this error response.
    Reject(Value),
    /// Nothing to do (blank line).
    Skip,
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// Classifies one line of input.
pub(crate) fn classify(line: &[u8]) -> Line {
    let text = match std::str::from_utf8(line) {
        Ok(t) => t.trim(),
        Err(_) => return Line::Reject(error(Value::Null, -32700, "parse error: the message is not UTF-8")),
    };
    if text.is_empty() {
        return Line::Skip;
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Line::Reject(error(Value::Null, -32700, &format!("parse error: {e}"))),
    };
    if serde_json::from_value::<ClientJsonRpcMessage>(value.clone()).is_ok() {
        return Line::Forward;
    }
    let id = value.get("id").cloned().filter(|v| v.is_string() || v.is_number());
    let has_method = value.get("method").and_then(Value::as_str).is_some();
    match (id, has_method) {
        (Some(id), true) => Line::Reject(error(id, -32602, "invalid params for this method")),
        (Some(id), false) => Line::Reject(error(id, -32600, "invalid request: not a JSON-RPC 2.0 message")),
        // A malformed notification or response gets no answer (there is no id to answer).
        (None, true) if value.get("id").is_none() => Line::Skip,
        (None, _) => Line::Reject(error(Value::Null, -32600, "invalid request: not a JSON-RPC 2.0 message")),
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes. `Ok(None)` at end of input; an over-long
/// line is consumed and reported as `Some(Err(()))`.
async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<Option<Result<Vec<u8>, ()>>> {
    let mut buf = Vec::new();
    let n = (&mut *reader).take(MAX_LINE + 1).read_until(b'\n', &mut buf).await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() as u64 > MAX_LINE && buf.last() != Some(&b'\n') {
        // Skip the rest of the over-long line.
        loop {
            let mut rest = Vec::new();
            let m = (&mut *reader).take(MAX_LINE).read_until(b'\n', &mut rest).await?;
            if m == 0 || rest.last() == Some(&b'\n') {
                break;
            }
        }
        return Ok(Some(Err(())));
    }
    Ok(Some(Ok(buf)))
}

/// Wires `input`/`output` to the SDK side of a pipe; returns the pipe end rmcp should serve on.
pub(crate) fn framed<I, O>(input: I, output: O) -> DuplexStream
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let (sdk_side, our_side) = tokio::io::duplex(1 << 20);
    let (from_sdk, mut to_sdk) = tokio::io::split(our_side);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();

    // One writer owns the output.
    tokio::spawn(async move {
        let mut output = output;
        while let Some(frame) = rx.recv().await {
            if output.write_all(&frame).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    });

    // SDK → output, whole lines.
    let tx_sdk = tx.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(from_sdk);
        loop {
            let mut buf = Vec::new();
            match lines.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx_sdk.send(buf).is_err() {
                        break;
                    }
                }
            }
        }
    });

    // Input → SDK, or an error answered here.
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        loop {
            let line = match read_line(&mut input).await {
                Ok(Some(Ok(line))) => line,
                Ok(Some(Err(()))) => {
                    let e = error(Value::Null, -32700, "parse error: message longer than 16 MiB");
                    let _ = tx.send(format!("{e}\n").into_bytes());
                    continue;
                }
                Ok(None) | Err(_) => break,
            };
            match classify(&line) {
                Line::Forward => {
                    let mut frame = line;
                    if frame.last() != Some(&b'\n') {
                        frame.push(b'\n');
                    }
                    if to_sdk.write_all(&frame).await.is_err() {
                        break;
                    }
                }
                Line::Reject(e) => {
                    tracing::debug!(error = %e, "rejected input line");
                    let _ = tx.send(format!("{e}\n").into_bytes());
                }
                Line::Skip => {}
            }
        }
        // End of input: closing the pipe ends the session.
        let _ = to_sdk.shutdown().await;
    });
    sdk_side
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(l: Line) -> (Value, i64) {
        match l {
            Line::Reject(v) => (v["id"].clone(), v["error"]["code"].as_i64().unwrap()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn classify_lines() {
        assert_eq!(classify(b"  \n"), Line::Skip);
        assert_eq!(code(classify(b"{not json")), (Value::Null, -32700));
        assert_eq!(code(classify(b"[1,2")), (Value::Null, -32700));
        assert_eq!(code(classify(b"\xff\xfe")), (Value::Null, -32700));
        assert_eq!(code(classify(br#"{"jsonrpc":"2.0","id":7,"result":1,"x":"#)), (Value::Null, -32700));
        assert_eq!(code(classify(br#"{"id":3}"#)), (json!(3), -32600));
        assert_eq!(
            code(classify(br#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":"x"}"#)),
            (json!(4), -32602)
        );
        assert_eq!(code(classify(b"42")), (Value::Null, -32600));
        assert_eq!(classify(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#), Line::Forward);
        assert_eq!(classify(br#"{"jsonrpc":"2.0","id":2,"method":"no/such/method"}"#), Line::Forward);
    }
}
