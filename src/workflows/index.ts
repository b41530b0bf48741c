/** The workflows this worker runs. Bundled into Temporal's sandbox: workflow-safe imports only. */
export { conversationWorkflow } from './conversation';
