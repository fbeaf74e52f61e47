// Pipeliner's success envelopes (reference §1.7).
import type { PageInfo } from '../domain/pagination.js';

export const single = (data: unknown) => ({ success: true, data });

export const listed = (data: unknown[], total: number, pageInfo: PageInfo) => ({
  success: true,
  total,
  page_info: pageInfo,
  data,
});
