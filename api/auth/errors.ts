import { AppError } from '../errors.js';

/** 401: no key, or a key that is unknown or revoked. The message never says which, nor echoes the key. */
export class AuthenticationError extends AppError {
  constructor(message: string) {
    super(401, 'authentication_error', message);
  }
}

/** 403: a valid key without the scope the route needs. */
export class PermissionError extends AppError {
  constructor(message: string) {
    super(403, 'permission_error', message);
  }
}
