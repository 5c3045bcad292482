package dev.tollgate.metering.request;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.config.EndpointFamily;

/**
 * What admission needs to know of a request body, read once. Counts of tokens are not here: the
 * prompt is bounded by its size in bytes, which is cheap and never below its token count for the
 * byte-level BPE encodings the providers use.
 *
 * @param body                 the parsed body, rewritten in place if admission lowers the output cap
 * @param requestedOutputTokens the client's output cap, or -1 if it set none
 * @param outputTokensField     the field that carries the cap on this endpoint as the client used it
 * @param choices               completions generated per request ({@code n} times {@code best_of})
 * @param imageParts            image content parts, whose tokens their bytes do not bound
 * @param storedContext         the prompt includes context stored upstream (Responses' previous_response_id
 *                              or conversation), so its size is bounded only by the context window
 */
public record InspectedRequest(
        EndpointFamily family,
        ObjectNode body,
        int bodyBytes,
        String model,
        boolean stream,
        boolean clientAskedForUsage,
        long requestedOutputTokens,
        String outputTokensField,
        int choices,
        int imageParts,
        boolean storedContext) {
}
