// The one error catalogue. Codes and names are Pipeliner's where Pipeliner has one
// (reference §1.7); the others are ours and documented in docs/decisions.md.

export interface FieldError {
  field_name: string;
  code: number;
  name: string;
  message: string;
}

interface ErrorKind {
  code: number;
  name: string;
  status: number;
}

export const ErrorKinds = {
  parameterInvalid: { code: 117, name: 'ERROR_PARAMETER_INVALID', status: 400 },
  parameterMissing: { code: 119, name: 'ERROR_PARAMETER_MISSING', status: 422 },
  relationsDoesntExist: { code: 120, name: 'ERROR_RELATIONS_DOESNT_EXIST', status: 422 },
  unauthorized: { code: 401, name: 'ERROR_UNAUTHORIZED', status: 401 },
  entityNotFound: { code: 404, name: 'ERROR_ENTITY_NOT_FOUND', status: 404 },
  unknownType: { code: 2006, name: 'ERROR_UNKNOWN_TYPE', status: 404 },
  routeNotFound: { code: 404, name: 'ERROR_ROUTE_NOT_FOUND', status: 404 },
  methodNotAllowed: { code: 405, name: 'ERROR_METHOD_NOT_ALLOWED', status: 405 },
  payloadTooLarge: { code: 413, name: 'ERROR_PAYLOAD_TOO_LARGE', status: 413 },
  unsupportedMediaType: { code: 415, name: 'ERROR_UNSUPPORTED_MEDIA_TYPE', status: 415 },
  entityValidation: { code: 40000, name: 'ERROR_ENTITY_VALIDATION', status: 422 },
  fieldValidation: { code: 40002, name: 'ERROR_FIELD_VALIDATION', status: 422 },
  deleteProtected: { code: 40003, name: 'ERROR_ENTITY_DELETE_PROTECTED', status: 422 },
  conversionInvalid: { code: 40004, name: 'ERROR_CONVERSION_INVALID', status: 422 },
  internal: { code: 500, name: 'ERROR_INTERNAL', status: 500 },
} as const satisfies Record<string, ErrorKind>;

/** An error meant for the API user: it carries everything the `Error` envelope needs. */
export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly details: Record<string, unknown>;

  constructor(kind: ErrorKind, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.kind = kind;
    this.details = details;
  }

  get status(): number {
    return this.kind.status;
  }

  toEnvelope(): Record<string, unknown> {
    return {
      success: false,
      http_status: this.kind.status,
      code: this.kind.code,
      name: this.kind.name,
      message: this.message,
      ...this.details,
    };
  }
}

export const invalidParameter = (message: string) => new ApiError(ErrorKinds.parameterInvalid, message);

export const notFound = (entityName: string, id: string) =>
  new ApiError(ErrorKinds.entityNotFound, `${entityName} with id '${id}' does not exist in this space.`);

/**
 * The extended 422 validation error (reference §1.7): one entry per field, each with its errors.
 * `entityIndex` is the position in a batch request, null for single-entity requests.
 */
export function entityValidationError(
  entityName: string,
  entityId: string | null,
  fieldErrors: FieldError[],
  entityIndex: number | null = null,
): ApiError {
  const byField = new Map<string, FieldError[]>();
  for (const error of fieldErrors) {
    const list = byField.get(error.field_name) ?? [];
    list.push(error);
    byField.set(error.field_name, list);
  }
  const summary = fieldErrors.map((error) => error.message).join(' ');
  return new ApiError(ErrorKinds.entityValidation, `${entityName} is not valid: ${summary}`, {
    entity_id: entityId,
    entity_name: entityName,
    entity_errors: [],
    field_errors: [...byField].map(([fieldName, errors]) => ({
      field_id: fieldName,
      field_name: fieldName,
      name: ErrorKinds.fieldValidation.name,
      code: ErrorKinds.fieldValidation.code,
      errors: errors.map((error) => ({ ...error, field_id: fieldName })),
    })),
    step_checklist_errors: [],
    entity_index: entityIndex,
  });
}

export const fieldError = (
  fieldName: string,
  kind: ErrorKind,
  message: string,
): FieldError => ({ field_name: fieldName, code: kind.code, name: kind.name, message });
