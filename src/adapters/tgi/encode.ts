// Canonical request → TGI `POST /generate_stream` body (TGI router `GenerateRequest`). Pure: no
// I/O and no validation; the engine validates and its in-band `validation` error is mapped.

import type { CanonicalRequest } from '../contract.ts';

export interface TgiGenerateParameters {
  max_new_tokens: number;
  /** Always true: the final event then carries finish_reason and token counts. */
  details: true;
  do_sample: boolean;
  seed?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
}

export interface TgiGenerateBody {
  inputs: string;
  parameters: TgiGenerateParameters;
}

export const TGI_STREAM_PATH = '/generate_stream';

export function encodeTgiRequest(req: CanonicalRequest): TgiGenerateBody {
  const parameters: TgiGenerateParameters = {
    max_new_tokens: req.maxTokens,
    details: true,
    do_sample: false,
  };
  // TGI rejects temperature 0 ("must be strictly positive"); greedy is do_sample:false instead.
  if (req.temperature !== undefined && req.temperature > 0) parameters.temperature = req.temperature;
  // top_p 1.0 is rejected by TGI ("must be > 0.0 and < 1.0") and means "no nucleus cut" anyway.
  if (req.topP !== undefined && req.topP !== 1) parameters.top_p = req.topP;
  parameters.do_sample = parameters.temperature !== undefined || parameters.top_p !== undefined;
  if (req.seed !== undefined) parameters.seed = req.seed;
  if (req.stop !== undefined && req.stop.length > 0) parameters.stop = [...req.stop];
  return { inputs: req.prompt, parameters };
}
