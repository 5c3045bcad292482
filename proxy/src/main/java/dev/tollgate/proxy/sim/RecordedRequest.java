package dev.tollgate.proxy.sim;

import java.util.List;
import java.util.Map;

/**
 * One request as the simulated provider received it.
 *
 * @param method  HTTP method, e.g. {@code POST}
 * @param path    request target as sent, query string included
 * @param headers every header, names lower-cased, values in arrival order
 * @param body    the body decoded as UTF-8 ({@code ""} when empty)
 */
public record RecordedRequest(String method, String path, Map<String, List<String>> headers, String body) {

    public RecordedRequest {
        headers = Map.copyOf(headers);
    }

    /** The first value of a header (name in any case), or null. */
    public String header(String name) {
        List<String> values = headers.get(name.toLowerCase(java.util.Locale.ROOT));
        return values == null || values.isEmpty() ? null : values.getFirst();
    }
}
