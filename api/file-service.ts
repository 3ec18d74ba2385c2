import type { FileView } from '../domain/responses.js';
import type { Db } from '../store/db.js';
import { deleteFile, findFile, setFileExpiry, sweepExpiredFiles } from '../store/files.js';
import { AppError, NotFoundError } from './errors.js';
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from './intake/limits.js';
import type { Upload } from './intake/read-upload.js';
import { storeUpload } from './intake/store-upload.js';
import { fileView } from './views.js';

/** How long an upload lives unless the uploader asks for less: DROVER_FILE_TTL_SECONDS. */
export const DEFAULT_FILE_TTL_SECONDS = 7 * 24 * 3600;

/** Everything the file routes do: uploads that `input_file_id` later names, until they expire or are deleted. */
export class FileService {
  constructor(
    private readonly db: Db,
    private readonly limits: IntakeLimits = DEFAULT_INTAKE_LIMITS,
    private readonly ttlSeconds = DEFAULT_FILE_TTL_SECONDS,
  ) {}

  /** `expiresAfterSeconds` may shorten the deployment's TTL, never lengthen it. */
  async upload(tenantId: string, upload: Upload, expiresAfterSeconds?: number): Promise<FileView> {
    // Each upload clears a few expired files first: the sweep's cost rides on the writes that make them.
    await this.sweep();
    const stored = await storeUpload(this.db, tenantId, { filename: upload.filename, format: upload.format }, upload.body, this.limits);
    return fileView(await setFileExpiry(this.db, stored.id, Math.min(expiresAfterSeconds ?? this.ttlSeconds, this.ttlSeconds)));
  }

  async get(tenantId: string, id: string): Promise<FileView> {
    const file = await findFile(this.db, tenantId, id);
    if (!file) throw new NotFoundError(`file ${id}`);
    return fileView(file);
  }

  /**
   * A batch made from the file has its own copy of the items, so a delete never touches one. Only
   * a submit still reading the file holds it: that is a 409, and the delete can be sent again.
   */
  async delete(tenantId: string, id: string): Promise<{ id: string; object: 'file'; deleted: true }> {
    const outcome = await deleteFile(this.db, tenantId, id);
    if (outcome === 'missing') throw new NotFoundError(`file ${id}`);
    if (outcome === 'busy') {
      throw new AppError(
        409,
        'file_in_use',
        `file ${id} is being read by a batch submit right now; delete it again once that submit has answered`,
      );
    }
    return { id, object: 'file', deleted: true };
  }

  /** Removes expired files, a bounded page at a time; returns how many went. */
  sweep(limit = 100): Promise<number> {
    return sweepExpiredFiles(this.db, limit);
  }
}
