import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import busboy from 'busboy';
import { ValidationError } from '../errors.js';

export interface FilePart {
  /** The file's bytes, read as they arrive: never buffered whole. */
  stream: Readable;
  filename: string | undefined;
  mimeType: string;
  /** Text fields sent before the file part (`format`, `filename`). */
  fields: Record<string, string>;
}

const FILE_FIELD = 'file';

/**
 * The `file` part of a `multipart/form-data` upload, as a stream (the form curl -F and browsers
 * send). Resolves as soon as the part's headers are in; fields and files after it are ignored.
 * A part under another name, no file or a malformed body is a 400 naming the problem.
 */
export function multipartFile(req: IncomingMessage): Promise<FilePart> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fields: 20, fieldSize: 4096, parts: 25 } });
    } catch (err) {
      reject(new ValidationError([{ path: '(body)', message: `not a multipart body: ${(err as Error).message}` }]));
      return;
    }
    const fields: Record<string, string> = {};
    let delivered: PassThrough | null = null;
    const bad = (message: string) => new ValidationError([{ path: FILE_FIELD, message }]);
    const malformed = (err: Error) => new ValidationError([{ path: '(body)', message: `malformed multipart body: ${err.message}` }]);

    parser.on('field', (name, value) => {
      if (!delivered) fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (delivered || name !== FILE_FIELD) {
        stream.resume();
        if (!delivered) reject(bad(`the file goes in the multipart field "file", not "${name}"`));
        return;
      }
      // Our own stream in front of busboy's: its failures arrive as 400s, and always have a listener.
      delivered = new PassThrough();
      // The reader may not have started yet (it opens a transaction first); it still sees the error
      // (a destroyed stream keeps it), and until then it must not count as unhandled.
      delivered.on('error', () => {});
      stream.on('error', (err: Error) => delivered!.destroy(malformed(err)));
      stream.pipe(delivered);
      resolve({ stream: delivered, filename: info.filename || undefined, mimeType: info.mimeType, fields });
    });
    parser.on('error', (err: Error) => {
      // Once the file is being read, its reader sees the failure: a cut-off upload is never stored.
      if (delivered) delivered.destroy(malformed(err));
      else reject(malformed(err));
    });
    parser.on('close', () => {
      if (!delivered) reject(bad('no file: send it as the multipart field "file"'));
    });
    req.pipe(parser);
  });
}
