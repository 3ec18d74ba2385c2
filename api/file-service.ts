import type { FileView } from '../domain/responses.js';
import type { Db } from '../store/db.js';
import { findFile } from '../store/files.js';
import { NotFoundError } from './errors.js';
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from './intake/limits.js';
import type { Upload } from './intake/read-upload.js';
import { storeUpload } from './intake/store-upload.js';
import { fileView } from './views.js';

/** Everything the file routes do: uploads that `input_file_id` later names. */
export class FileService {
  constructor(
    private readonly db: Db,
    private readonly limits: IntakeLimits = DEFAULT_INTAKE_LIMITS,
  ) {}

  async upload(tenantId: string, upload: Upload): Promise<FileView> {
    return fileView(await storeUpload(this.db, tenantId, { filename: upload.filename, format: upload.format }, upload.body, this.limits));
  }

  async get(tenantId: string, id: string): Promise<FileView> {
    const file = await findFile(this.db, tenantId, id);
    if (!file) throw new NotFoundError(`file ${id}`);
    return fileView(file);
  }
}
