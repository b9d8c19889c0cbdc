import { resolvePrefix, userChannelName } from '../../src/core/channel.js';
import { ConfigError } from '../../src/core/errors.js';
import { defaultConfig } from '../../src/config/defaults.js';

describe('channels', () => {
  test.each([
    ['kevinrosendahl', 'kevinrosendahl'],
    ['Kevin.Rosendahl', 'kevin-rosendahl'],
    ['dependabot[bot]', 'dependabot-bot'],
    ['__jo__', 'jo'],
    ['Zoë', 'zo'],
    ['a b;$(rm -rf)', 'a-b-rm-rf'],
  ])('user %s gets channel %s', (user, channel) => {
    expect(userChannelName(user)).toBe(channel);
  });

  test.each<[string, string, string | undefined, string]>([
    ['no channel', '', 'someone', ''],
    ['user channel', 'user', 'Kevin.R', 'kevin-r-'],
  ])('%s', (_what, channel, actor, prefix) => {
    expect(resolvePrefix({ ...defaultConfig(), channel, prefix: '' }, actor)).toBe(prefix);
  });

  test('a literal prefix wins over the channel', () => {
    expect(
      resolvePrefix({ ...defaultConfig(), channel: 'user', prefix: 'stable-debug-' }, 'x'),
    ).toBe('stable-debug-');
  });

  test.each([undefined, '', '!!!'])(
    'user channel without a usable user (%j) is an error',
    (actor) => {
      expect(() =>
        resolvePrefix({ ...defaultConfig(), channel: 'user', prefix: '' }, actor),
      ).toThrow(ConfigError);
    },
  );
});
