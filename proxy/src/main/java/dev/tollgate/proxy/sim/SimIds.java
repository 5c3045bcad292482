package dev.tollgate.proxy.sim;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Ids shaped like the providers' ({@code chatcmpl-}, {@code resp_}, {@code msg_01...}, ...),
 * derived from one per-provider sequence so that a run is reproducible.
 */
final class SimIds {

    private static final String BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private static final String HEX = "0123456789abcdef";

    /** Reported by every OpenAI answer, as a fixed backend build would. */
    static final String SYSTEM_FINGERPRINT = "fp_51m0la7ed0";

    private final AtomicLong sequence = new AtomicLong();

    /** {@code chatcmpl-} and 29 base62 characters. */
    String chatCompletion() {
        return "chatcmpl-" + next(BASE62, 29);
    }

    /** {@code cmpl-} and 29 base62 characters (legacy completions). */
    String completion() {
        return "cmpl-" + next(BASE62, 29);
    }

    /** {@code resp_} and 48 hex digits. */
    String response() {
        return "resp_" + next(HEX, 48);
    }

    /** {@code msg_} and 48 hex digits: a Responses API output message item. */
    String outputMessage() {
        return "msg_" + next(HEX, 48);
    }

    /** {@code rs_} and 48 hex digits: a Responses API reasoning item. */
    String reasoningItem() {
        return "rs_" + next(HEX, 48);
    }

    /** {@code msg_01} and 22 base62 characters: an Anthropic message. */
    String anthropicMessage() {
        return "msg_01" + next(BASE62, 22);
    }

    /** The {@code x-request-id} of an OpenAI answer. */
    String openAiRequestId() {
        return "req_" + next(HEX, 32);
    }

    /** The {@code request-id} of an Anthropic answer. */
    String anthropicRequestId() {
        return "req_011C" + next(BASE62, 20);
    }

    private String next(String alphabet, int length) {
        SplittableRandom random = new SplittableRandom(sequence.incrementAndGet());
        char[] chars = new char[length];
        for (int i = 0; i < length; i++) {
            chars[i] = alphabet.charAt(random.nextInt(alphabet.length()));
        }
        return new String(chars);
    }
}
