/**
 * The API's response shapes, shared with the server (domain/responses.ts): every response body
 * is parsed with one of these; a body that does not match throws `DroverResponseError`.
 */
export * from '../domain/responses.js';
