import { describe, expect, it } from 'vitest';
import { splitSettingList } from '../../../lambda/engines/role-settings.js';

describe('splitSettingList, as PostgreSQL splits a stored list setting', () => {
  it.each([
    ['app, public', ['app', 'public']],
    ['"$user", public', ['$user', 'public']],
    ['"with, comma", "quote""d"', ['with, comma', 'quote"d']],
    ['single', ['single']],
    ['', []],
  ])('splits %j into its elements', (text, elements) => {
    expect(splitSettingList(text)).toEqual(elements);
  });
});
