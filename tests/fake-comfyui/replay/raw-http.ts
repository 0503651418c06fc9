/**
 * A raw HTTP/1.1 exchange over TCP, for requests `fetch` will not send as recorded (WebSocket
 * upgrades with an `Origin`). For a 101 it also decodes the first server frame.
 */

export interface RawExchange {
  status: number;
  headers: Record<string, string>;
  /** First WebSocket text frame after a 101, parsed as JSON. */
  firstFrame: unknown;
}

function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1]), headers };
}

/** One unmasked server frame: returns its payload, or null while incomplete. */
function readFrame(bytes: Uint8Array): Uint8Array | null {
  if (bytes.length < 2) return null;
  let length = (bytes[1] as number) & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return null;
    length = ((bytes[2] as number) << 8) | (bytes[3] as number);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return null;
    length = Number(new DataView(bytes.buffer, bytes.byteOffset + 2, 8).getBigUint64(0));
    offset = 10;
  }
  return bytes.length < offset + length ? null : bytes.subarray(offset, offset + length);
}

export function rawExchange(port: number, request: string, timeoutMs = 5000): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    let received = new Uint8Array(0);
    let settled = false;
    const finish = (socket: { end(): void } | null, result: RawExchange | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.end();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(() => finish(null, new Error("raw exchange timed out")), timeoutMs);
    const tryComplete = (socket: { end(): void }, closed: boolean): void => {
      const text = Buffer.from(received).toString("latin1");
      const headEnd = text.indexOf("\r\n\r\n");
      if (headEnd === -1) {
        if (closed) finish(socket, new Error(`incomplete response: ${JSON.stringify(text)}`));
        return;
      }
      const head = parseHead(text.slice(0, headEnd));
      const rest = received.subarray(headEnd + 4);
      if (head.status === 101) {
        const payload = readFrame(rest);
        if (payload === null) return;
        finish(socket, { ...head, firstFrame: JSON.parse(new TextDecoder().decode(payload)) });
        return;
      }
      const length = Number(head.headers["content-length"] ?? "0");
      if (rest.length >= length || closed) finish(socket, { ...head, firstFrame: null });
    };
    void Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(socket) {
          socket.write(request);
        },
        data(socket, chunk) {
          const next = new Uint8Array(received.length + chunk.length);
          next.set(received);
          next.set(chunk, received.length);
          received = next;
          tryComplete(socket, false);
        },
        close(socket) {
          tryComplete(socket, true);
        },
        error(socket, error) {
          finish(socket, error);
        },
      },
    }).catch((error: unknown) => finish(null, error instanceof Error ? error : new Error(String(error))));
  });
}
