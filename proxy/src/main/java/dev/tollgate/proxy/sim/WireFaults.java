package dev.tollgate.proxy.sim;

import io.netty.util.AsciiString;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * How the simulator misbehaves on the wire for one request (the {@code [sim:...]} fault directives): when it
 * stops, cuts, resets or garbles its answer, and what it puts in its request-id header. Positions that name
 * content deltas count them from 1 ("after N deltas"), like {@code [sim:fail-after]}; positions that name an
 * event count every event of the stream from 1, prelude included. {@link Directives#ABSENT} means no such fault.
 *
 * @param hangBeforeHead        {@code [sim:hang=before-head]}: read the request and never answer
 * @param hangAfterDeltas       {@code [sim:hang-after=N]}: streams only; after N deltas stop writing, keep the connection open
 * @param resetAfterDeltas      {@code [sim:reset-after=N]}: after N deltas (a JSON answer: instead of it) reset the connection
 * @param failAfterDeltas       {@code [sim:fail-after=N]}: streams only; after N deltas close the connection (FIN)
 * @param errorEventAfterDeltas {@code [sim:error-event=N]}: streams only; after N deltas the provider's error event, then the end
 * @param truncateEvent         {@code [sim:truncate-event=N]}: streams only; the N-th event is cut in half, then the connection closed
 * @param malformedEvent        {@code [sim:malformed-event=N]}: streams only; the N-th event's JSON loses its closing brace
 * @param errorBody             {@code [sim:error-body]}: a 200 whose JSON body is the provider's error object
 * @param requestId             {@code [sim:request-id=hostile|long]}: the request-id header's bytes
 */
record WireFaults(boolean hangBeforeHead, int hangAfterDeltas, int resetAfterDeltas, int failAfterDeltas,
                  int errorEventAfterDeltas, int truncateEvent, int malformedEvent, boolean errorBody,
                  RequestIdFault requestId) {

    static final WireFaults NONE = new WireFaults(false, Directives.ABSENT, Directives.ABSENT, Directives.ABSENT,
            Directives.ABSENT, Directives.ABSENT, Directives.ABSENT, false, RequestIdFault.NONE);

    /** What {@code [sim:request-id=...]} sends instead of a well-formed request id. */
    enum RequestIdFault {
        NONE,
        /**
         * Bytes HTTP allows but no provider should send: 129 UTF-8 {@code é} (258 bytes, over the journal's 256-byte
         * limit, which once stuck a reservation), bytes that are not UTF-8 (obs-text), a quote, a backslash, {@code <}, {@code %}.
         */
        HOSTILE,
        /** Control bytes (0x01, 0x7f), which HTTP forbids in a header value: the response itself is malformed. */
        INVALID,
        /** 2,000 {@code é}: 4,000 bytes of well-formed UTF-8, well inside an HTTP head but far over any id field. */
        LONG;

        static RequestIdFault named(String name) {
            return switch (name == null ? "" : name) {
                case "hostile" -> HOSTILE;
                case "invalid" -> INVALID;
                case "long" -> LONG;
                default -> NONE;
            };
        }

        /** The header value: the id itself when there is no fault, else the bytes as they go on the wire. */
        CharSequence headerValue(String requestId) {
            if (this == NONE) {
                return requestId;
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            bytes.writeBytes("req_".getBytes(StandardCharsets.US_ASCII));
            byte[] eAcute = "\u00e9".getBytes(StandardCharsets.UTF_8);
            if (this == INVALID) {
                bytes.writeBytes(new byte[] {0x01, 0x7f});
            }
            for (int i = 0, n = this == LONG ? 2_000 : 129; i < n; i++) {
                bytes.writeBytes(eAcute);
            }
            if (this == HOSTILE) {
                bytes.writeBytes(new byte[] {(byte) 0xff, (byte) 0xfe, (byte) 0x80, '"', '\\', '<', '%'});
            }
            // Not copied and not validated: the point is to put on the wire what a well-behaved server never would.
            return new AsciiString(bytes.toByteArray(), false);
        }
    }

    /** True when the stream's next event position {@code next} is just after the N-th delta of a fault at N. */
    static boolean afterDeltas(int deltas, StreamScript script, int next) {
        return deltas != Directives.ABSENT && deltas <= script.deltaEvents() && next == script.preludeEvents() + deltas;
    }

    /** True when some fault ends or stops the stream just before event position {@code next}. */
    boolean cutsBefore(StreamScript script, int next) {
        return afterDeltas(failAfterDeltas, script, next) || afterDeltas(resetAfterDeltas, script, next)
                || afterDeltas(hangAfterDeltas, script, next) || afterDeltas(errorEventAfterDeltas, script, next);
    }
}
