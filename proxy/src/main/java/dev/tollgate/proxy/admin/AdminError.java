package dev.tollgate.proxy.admin;

import io.netty.handler.codec.http.HttpResponseStatus;

/** A refused admin request: its status and {@code {"error":{"type":..., "message":...}}}. */
final class AdminError extends RuntimeException {
    final HttpResponseStatus status;
    final String type;

    AdminError(HttpResponseStatus status, String type, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
    }

    static AdminError badRequest(String message) {
        return new AdminError(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", message);
    }

    static AdminError notFound(String message) {
        return new AdminError(HttpResponseStatus.NOT_FOUND, "not_found_error", message);
    }

    static AdminError conflict(String type, String message) {
        return new AdminError(HttpResponseStatus.CONFLICT, type, message);
    }
}
