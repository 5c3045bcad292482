package dev.tollgate.bench;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Recorded-shape SSE streams for the metering benchmarks: what OpenAI's and Anthropic's APIs send
 * for an answer of {@code events} content deltas (field for field, including OpenAI's
 * {@code obfuscation} padding), and the delta texts alone for the tokenizer baseline.
 */
final class StreamFixtures {
    private static final String[] WORDS = {" The", " proxy", " counts", " every", " token", " as", " it", " streams", ",", " and",
        " the", " balance", " moves", " by", " exactly", " what", " was", " used", ".", " Metering", " inline", " keeps", " latency", " low"};

    private StreamFixtures() {
    }

    record Stream(String name, byte[] bytes, List<String> deltas) {
    }

    static Stream of(String name, int events) {
        List<String> deltas = new ArrayList<>();
        for (int i = 0; i < events; i++) {
            deltas.add(WORDS[i % WORDS.length]);
        }
        String text = switch (name) {
            case "openai-chat" -> openAiChat(deltas);
            case "openai-responses" -> openAiResponses(deltas);
            case "anthropic" -> anthropic(deltas);
            default -> throw new IllegalArgumentException(name);
        };
        return new Stream(name, text.getBytes(StandardCharsets.UTF_8), deltas);
    }

    private static String openAiChat(List<String> deltas) {
        String head = "data: {\"id\":\"chatcmpl-BxQ7d2kR9\",\"object\":\"chat.completion.chunk\",\"created\":1795000000,\"model\":\"gpt-4o-mini-2024-07-18\","
                + "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_51db84afab\",\"choices\":[{\"index\":0,\"delta\":";
        StringBuilder out = new StringBuilder();
        out.append(head).append("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"fZkXn2\"}\n\n");
        for (String delta : deltas) {
            out.append(head).append("{\"content\":\"").append(delta).append("\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"q3Z\"}\n\n");
        }
        out.append(head).append("{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null,\"obfuscation\":\"Lm\"}\n\n");
        out.append("data: {\"id\":\"chatcmpl-BxQ7d2kR9\",\"object\":\"chat.completion.chunk\",\"created\":1795000000,\"model\":\"gpt-4o-mini-2024-07-18\",")
                .append("\"service_tier\":\"default\",\"system_fingerprint\":\"fp_51db84afab\",\"choices\":[],\"usage\":{\"prompt_tokens\":412,")
                .append("\"completion_tokens\":").append(deltas.size()).append(",\"total_tokens\":").append(412 + deltas.size())
                .append(",\"prompt_tokens_details\":{\"cached_tokens\":256,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,")
                .append("\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},\"obfuscation\":\"x\"}\n\n");
        out.append("data: [DONE]\n\n");
        return out.toString();
    }

    private static String openAiResponses(List<String> deltas) {
        StringBuilder out = new StringBuilder();
        String response = "{\"id\":\"resp_68a1\",\"object\":\"response\",\"created_at\":1795000000,\"status\":\"%s\",\"model\":\"gpt-4.1-mini\",\"output\":[],\"usage\":%s}";
        int sequence = 0;
        out.append("event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":").append(sequence++)
                .append(",\"response\":").append(String.format(response, "in_progress", "null")).append("}\n\n");
        for (String delta : deltas) {
            out.append("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":").append(sequence++)
                    .append(",\"item_id\":\"msg_68a1\",\"output_index\":0,\"content_index\":0,\"delta\":\"").append(delta)
                    .append("\",\"logprobs\":[],\"obfuscation\":\"Zk2\"}\n\n");
        }
        String usage = "{\"input_tokens\":412,\"input_tokens_details\":{\"cached_tokens\":256},\"output_tokens\":" + deltas.size()
                + ",\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":" + (412 + deltas.size()) + "}";
        out.append("event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":").append(sequence)
                .append(",\"response\":").append(String.format(response, "completed", usage)).append("}\n\n");
        return out.toString();
    }

    private static String anthropic(List<String> deltas) {
        StringBuilder out = new StringBuilder();
        out.append("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",")
                .append("\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,")
                .append("\"usage\":{\"input_tokens\":156,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":256,\"output_tokens\":1}}}\n\n");
        out.append("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
        out.append("event: ping\ndata: {\"type\": \"ping\"}\n\n");
        for (String delta : deltas) {
            out.append("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"")
                    .append(delta).append("\"}}\n\n");
        }
        out.append("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
        out.append("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},")
                .append("\"usage\":{\"output_tokens\":").append(deltas.size()).append("}}\n\n");
        out.append("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        return out.toString();
    }
}
