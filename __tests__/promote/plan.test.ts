// planPromotion: a pure function from the configured images to same-repository items.
import { NameError, UserError } from '../../src/core/errors.js';
import { planPromotion } from '../../src/promote/promote.js';

const images = [
  { name: 'api', repository: 'registry.example.com/team/api' },
  { name: 'web', repository: 'registry.example.com/team/web' },
  { name: 'worker', repository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/worker' },
];

describe('planPromotion', () => {
  test('promotes every image from one tag to each of the others, in the same repository', () => {
    expect(planPromotion({ images, from: 'staging', to: ['release', 'latest'] })).toEqual([
      {
        image: 'api',
        source: 'registry.example.com/team/api:staging',
        targets: ['registry.example.com/team/api:release', 'registry.example.com/team/api:latest'],
      },
      {
        image: 'web',
        source: 'registry.example.com/team/web:staging',
        targets: ['registry.example.com/team/web:release', 'registry.example.com/team/web:latest'],
      },
      {
        image: 'worker',
        source: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/worker:staging',
        targets: [
          '123456789012.dkr.ecr.eu-west-1.amazonaws.com/worker:release',
          '123456789012.dkr.ecr.eu-west-1.amazonaws.com/worker:latest',
        ],
      },
    ]);
  });

  test.each([
    { only: ['web'], expected: ['web'] },
    { only: ['worker', 'api'], expected: ['api', 'worker'] },
    { only: ['api', 'api'], expected: ['api'] },
    { only: [], expected: ['api', 'web', 'worker'] },
    { only: undefined, expected: ['api', 'web', 'worker'] },
  ])('only $only keeps $expected, in the configured order', ({ only, expected }) => {
    const items = planPromotion({
      images,
      from: 'test',
      to: ['latest'],
      ...(only ? { only } : {}),
    });
    expect(items.map((item) => item.image)).toEqual(expected);
  });

  test('unknown names in only are one error that lists the known images', () => {
    const run = () =>
      planPromotion({ images, from: 'test', to: ['latest'], only: ['apj', 'web', 'db'] });
    expect(run).toThrow(UserError);
    expect(run).toThrow(
      'cannot promote "apj", "db": no such image; known images: api, web, worker',
    );
  });

  test('duplicate target tags are written once', () => {
    const [item] = planPromotion({ images, from: 'test', to: ['latest', 'latest'], only: ['api'] });
    expect(item?.targets).toEqual(['registry.example.com/team/api:latest']);
  });

  test.each([
    { from: 'staging', to: ['re lease'], message: 'tag "re lease" must match' },
    { from: '-staging', to: ['release'], message: 'tag "-staging" must match' },
    { from: 'staging', to: ['x'.repeat(129)], message: 'at most 128 are allowed' },
  ])('an invalid tag is a NameError: $message', ({ from, to, message }) => {
    const run = () => planPromotion({ images, from, to });
    expect(run).toThrow(NameError);
    expect(run).toThrow(message);
  });

  test('no target tag is an error', () => {
    expect(() => planPromotion({ images, from: 'staging', to: [] })).toThrow(
      'promotion needs at least one tag to promote to',
    );
  });

  test('an invalid repository names the image', () => {
    expect(() =>
      planPromotion({
        images: [{ name: 'bad', repository: 'Registry/Team/API' }],
        from: 'a',
        to: ['b'],
      }),
    ).toThrow(/^promoting bad: invalid image reference "Registry\/Team\/API:a"/);
  });
});
