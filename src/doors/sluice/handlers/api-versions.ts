// ApiVersions: the version table (one table drives routing and this answer) and the broker's release.

import { API_VERSIONS, type ApiVersionsResponse } from '../../../protocol/messages.js';
import type { Handler } from './handler.js';

export const handleApiVersions: Handler = (ctx) => {
  const body: ApiVersionsResponse = { apis: [...API_VERSIONS], broker: { software: 'sluice', version: ctx.broker.version } };
  return { body };
};
