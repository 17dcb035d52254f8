//! Evaluation (流动红旗, 服务之星, 绩效评估): counters, departments and staff ranked on their
//! figures for a period, by weights the bureau sets and the page shows beside the figures
//! (so nobody takes the ranking for a black box). It lists candidates; a leader awards.

/// One place's or person's figures, and its score.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Ranked {
    /// A directory code, or a staff member's name.
    pub subject: String,
    /// The figures, in the order of the weights' names.
    pub figures: Vec<i64>,
    pub score: f64,
}

/// A weighted sum of the figures (missing weights count zero), rounded to 0.1.
pub fn score(figures: &[i64], weights: &[f64]) -> f64 {
    let s: f64 = figures
        .iter()
        .zip(weights)
        .map(|(f, w)| *f as f64 * w)
        .sum();
    (s * 10.0).round() / 10.0
}

/// Ranks by score, best first (ties by name, for a stable list).
pub fn rank(mut items: Vec<(String, Vec<i64>)>, weights: &[f64]) -> Vec<Ranked> {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let mut ranked: Vec<Ranked> = items
        .into_iter()
        .map(|(subject, figures)| Ranked {
            score: score(&figures, weights),
            subject,
            figures,
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    ranked
}

/// What can be awarded.
pub const AWARDS: [(&str, &str); 2] = [("red_flag", "流动红旗"), ("service_star", "服务之星")];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weights_decide_and_are_applied_as_shown() {
        // figures: failed cases, staff-side, good ratings, bad ratings
        let weights = [-1.0, -3.0, 1.0, -2.0];
        let ranked = rank(
            vec![
                ("w1".into(), vec![5, 2, 1, 1]),
                ("w2".into(), vec![1, 0, 3, 0]),
                ("w3".into(), vec![3, 0, 0, 0]),
            ],
            &weights,
        );
        let order: Vec<&str> = ranked.iter().map(|r| r.subject.as_str()).collect();
        assert_eq!(order, ["w2", "w3", "w1"]);
        assert_eq!(ranked[0].score, 2.0);
        assert_eq!(ranked[2].score, -12.0);
    }
}
