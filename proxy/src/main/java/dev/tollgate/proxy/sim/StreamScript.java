package dev.tollgate.proxy.sim;

import io.netty.buffer.ByteBuf;

/**
 * The events of one SSE stream in three runs: a prelude (stream and message start events), one
 * event per content token, and a trailer (stop events, usage, terminator). {@link SseStream}
 * writes them in that order, one event per chunk; {@code [sim:fail-after=N]} cuts the stream
 * right after the N-th content delta.
 *
 * <p>Events are produced one at a time as the stream advances, never all up front, so a stream of
 * a million events costs no more memory than one of ten. They are always asked for in order, so a
 * script may keep counters (such as the Responses API's {@code sequence_number}).
 */
abstract class StreamScript {

    abstract int preludeEvents();

    abstract void writePrelude(int index, ByteBuf out);

    /** Content deltas: exactly one output token each. */
    abstract int deltaEvents();

    abstract void writeDelta(int index, ByteBuf out);

    abstract int trailerEvents();

    abstract void writeTrailer(int index, ByteBuf out);

    /**
     * The provider's own error event in the middle of a stream ({@code [sim:error-event=N]}), after which the
     * stream ends: OpenAI's chat and completions streams send a {@code data: {"error": ...}} chunk.
     */
    void writeProviderError(ByteBuf out) {
        Json.sse(out, null, g -> {
            g.writeStartObject();
            g.writeObjectFieldStart("error");
            g.writeStringField("message", "The server had an error while processing your request. Sorry about that!");
            g.writeStringField("type", "server_error");
            g.writeNullField("param");
            g.writeNullField("code");
            g.writeEndObject();
            g.writeEndObject();
        });
    }

    final int totalEvents() {
        return preludeEvents() + deltaEvents() + trailerEvents();
    }

    /** Writes the event at a position of the whole stream. */
    final void write(int position, ByteBuf out) {
        int prelude = preludeEvents();
        if (position < prelude) {
            writePrelude(position, out);
            return;
        }
        int deltas = deltaEvents();
        if (position < prelude + deltas) {
            writeDelta(position - prelude, out);
            return;
        }
        writeTrailer(position - prelude - deltas, out);
    }
}
