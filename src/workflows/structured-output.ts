/**
 * Structured output in the conversation: the verdict the model-call activity recorded on the answer
 * that ends a turn becomes the state's (and the result's) `output`; an answer that fails the schema is
 * asked for once more, telling the model what was wrong.
 */
import { correctionText, type OutputVerdict } from '../api/structured-output';
import type { Conversation } from './conversation-state';

/**
 * Answers judged per turn before an invalid one stands: one corrective retry. The API already holds
 * the answer to what it supports of the schema; what fails here is a constraint it does not enforce
 * (a minimum, a length, a refinement), which the model can usually fix once it is told. More retries
 * mostly buy the same mistake again, at the price of a full prompt each.
 */
export const MAX_OUTPUT_ATTEMPTS = 2;

/**
 * Records the verdict on the turn's final answer, if it has one (`attempts`: answers judged in this turn, this one
 * included). True when it was invalid and the model is asked again: a user message saying why is
 * appended (marked `outputCorrection` in its meta), and the turn goes on with another call.
 */
export function askAgainForOutput(
  conversation: Conversation,
  verdict: OutputVerdict | undefined,
  attempts: number,
): boolean {
  if (!verdict) return false; // no output schema
  conversation.recordOutput(verdict, attempts);
  if (verdict.status !== 'invalid' || attempts >= MAX_OUTPUT_ATTEMPTS) return false;
  conversation.correctOutput(correctionText(verdict.reason ?? 'it does not match the schema'));
  return true;
}
