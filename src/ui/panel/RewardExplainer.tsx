/**
 * @file "What is r_v?": the definitions of every figure the panels show, one click away (a disclosure above the
 * panels), in words and in the formulas src/core/reward.ts implements.
 */
export function RewardExplainer() {
  return (
    <details className="explainer" data-testid="explainer">
      <summary data-testid="explainer-toggle">What is r_v? (the figures explained)</summary>
      <dl>
        <dt>R_a · token in region</dt>
        <dd>
          For one generated token: a = mean attention (last layer, head mean) on the image tokens inside the key
          regions, v = mean attention on all image tokens; R_a = ½(1 + tanh(log(a / v))). 0.5 means the region gets the
          image's average attention; above 0.5, more.
        </dd>
        <dt>r_v · region reward</dt>
        <dd>
          The SAYO reward of the whole answer: over the top-30 % entropy tokens (the <span className="rv-dot">●</span>{' '}
          tokens), a_q and v_q are the means of a and v, and r_v = tanh(log(a_q / v_q)), in [−1, 1]. Positive: the model
          looked at the region more than at the image on average while it was uncertain.
        </dd>
        <dt>a_q · region attention, v_q · image attention</dt>
        <dd>
          Those two means: the attention probability per image token, inside the regions and over the whole image.
        </dd>
        <dt>alignment · which attention row a token owns</dt>
        <dd>
          produced (default): token t is scored with the attention row that chose it — where the model looked while
          deciding that token, every token included. input (the official SAYO code): token t is scored with the next
          row, where t is the input, so the last token is not scored. Heatmaps always show the row that produced the
          token.
        </dd>
        <dt>image share</dt>
        <dd>How much of each token's attention row goes to image tokens at all (mean over heads and tokens), 0…1.</dd>
        <dt>Heatmap</dt>
        <dd>
          The picked token's attention over the image's visual-token cells, on one colour scale shared by both panels
          (see the legend); boxes are the key regions, in the image's own pixels.
        </dd>
      </dl>
    </details>
  );
}
