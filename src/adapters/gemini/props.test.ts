import { describe, expect, it } from 'vitest';
import { decodeGeminiModelCard, decodeGeminiModelPage } from './props.ts';

describe('Gemini model documents', () => {
  it('reads a model card and drops the models/ prefix', () => {
    expect(decodeGeminiModelCard({ name: 'models/gemini-2.5-flash', version: '001', inputTokenLimit: 1_048_576, outputTokenLimit: 65_536 }, 'x')).toEqual({
      model: 'gemini-2.5-flash',
      version: '001',
      inputTokenLimit: 1_048_576,
      outputTokenLimit: 65_536,
    });
    expect(decodeGeminiModelCard({ name: 'models/x' }, 'x')).toBeUndefined();
  });

  it('keeps listed models that serve generateContent, with the next page token', () => {
    const page = {
      models: [
        { name: 'models/gemini-2.5-pro', supportedGenerationMethods: ['generateContent', 'countTokens'] },
        { name: 'models/text-embedding-004', supportedGenerationMethods: ['embedContent'] },
        { name: 'models/no-methods' },
      ],
      nextPageToken: 'Cg5tb2RlbHMvZ2VtaW5p',
    };
    expect(decodeGeminiModelPage(page)).toEqual({ ids: ['gemini-2.5-pro'], nextPageToken: 'Cg5tb2RlbHMvZ2VtaW5p' });
    expect(decodeGeminiModelPage({})).toEqual({ ids: [], nextPageToken: undefined });
    expect(decodeGeminiModelPage({ models: 'x' })).toBeUndefined();
  });
});
